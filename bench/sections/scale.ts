/**
 * Scale: 100,000 idle connections on one machine. One process cannot hold more than `ulimit -n`
 * (20,000 here), so several hub processes share a Redis (one server, then a local Redis Cluster of
 * three masters) and as many load processes open the connections, each from its own source
 * addresses in 127.0.0.0/8. Then one publish to a room that holds every connection, and messages
 * to 1,000 users' own rooms spread over the nodes: time to open, memory per connection per node,
 * last-delivery p50/p99, and Redis CPU per message.
 *
 * Opt-in (`npm run bench -- --only=scale`): it takes a few minutes and most of the machine.
 */
import { readFileSync } from 'node:fs';
import { LocalRedisCluster } from '../../scripts/local-redis-cluster.js';
import { type BenchChild, spawnChild } from '../children.js';
import type { Context } from '../context.js';
import type { HoldJob, HoldResult } from '../load/hold.js';
import { connectRedis } from '../redis.js';
import { bytes, num, type SectionResult, type Table, type Target } from '../report.js';
import { LatencyRecorder } from '../stats.js';
import { LOAD_CPU, type RunningServer, startServer } from './session.js';
import { until } from './wait.js';

const MESSAGE_BYTES = 64;

interface Delivered {
  received: number;
  lastAt: number;
  complete: boolean;
}

interface ScaleRun {
  redis: 'one Redis' | 'Redis Cluster (3 masters)';
  nodes: number;
  opened: number;
  openSeconds: number;
  perConnection: { rss: number; heap: number };
  room: { p50: number; p99: number; incomplete: number; redisCpuUsPerMessage: number };
  users: { count: number; p50: number; p99: number; incomplete: number; redisCpuUsPerMessage: number };
}

export async function scaleSection(context: Context): Promise<SectionResult> {
  const { log, config } = context;
  const quick = config.mode === 'quick';
  const settings = quick
    ? { nodes: 2, connections: 600, messages: 5, users: 20 }
    : { nodes: 6, connections: 100_000, messages: 20, users: 1_000 };
  const runs: ScaleRun[] = [];
  runs.push(await scaleRun(context, settings, undefined));
  const cluster = new LocalRedisCluster(17401);
  try {
    await cluster.start();
    runs.push(await scaleRun(context, settings, cluster));
  } catch (error) {
    log(`scale: the Redis Cluster run failed: ${(error as Error).message}`);
  } finally {
    cluster.stop();
  }
  const full = runs.filter((run) => run.opened >= settings.connections);
  const targets: Target[] = [
    {
      name: `scale, ${settings.connections.toLocaleString('en-US')} idle connections on one machine`,
      wanted: 'all open, on one Redis and on a Redis Cluster, every message delivered',
      measured: runs.map((run) => `${run.redis}: ${run.opened.toLocaleString('en-US')}`).join('; '),
      met: full.length === 2 && runs.every((run) => run.room.incomplete === 0 && run.users.incomplete === 0),
    },
  ];
  const table: Table = {
    title: `Scale: ${settings.connections.toLocaleString('en-US')} idle ws connections over ${settings.nodes} hub processes on one machine`,
    columns: [
      'Redis',
      'open',
      'seconds to open',
      'RSS per connection (node)',
      'heap per connection (node)',
      'room publish to all: last delivery p50 / p99 ms',
      'Redis CPU µs per room publish',
      `${settings.users.toLocaleString('en-US')} user rooms: last delivery p50 / p99 ms`,
      'Redis CPU µs per user message',
    ],
    rows: runs.map((run) => [
      run.redis,
      run.opened.toLocaleString('en-US'),
      num(run.openSeconds),
      bytes(run.perConnection.rss),
      bytes(run.perConnection.heap),
      `${num(run.room.p50)} / ${num(run.room.p99)}${run.room.incomplete ? ` (${run.room.incomplete} incomplete)` : ''}`,
      num(run.room.redisCpuUsPerMessage),
      `${num(run.users.p50)} / ${num(run.users.p99)}${run.users.incomplete ? ` (${run.users.incomplete} incomplete)` : ''}`,
      num(run.users.redisCpuUsPerMessage / run.users.count),
    ]),
    notes: [
      `${settings.nodes} hub processes (redisBroker, each connection its own user and one shared room) and as many load ` +
        'processes, each holding its share of the connections from two source addresses of its own; the counts are what the ' +
        'hubs said they held. Memory per connection: each hub process’s RSS and V8 heap with its connections, less the same ' +
        'before the first one, divided by them; the median over the nodes.',
      `${settings.messages} room publishes of ${MESSAGE_BYTES} B made on the first node, one at a time, each timed to the ` +
        `last of all the connections; then ${settings.messages} rounds of one message to each of ${settings.users} users' ` +
        'own rooms (hub.publish(userRoom(id)), as toUser does), users taken evenly from every node. Redis CPU: used_cpu_user ' +
        "+ used_cpu_sys of the Redis servers over the messages, per message (per user message for the users' rooms); " +
        "a user's message goes to the one node that holds the user (routing by room); the room of all, to every node. " +
        "Every connection's user room is a channel its node subscribes to: 100,000 channels in Redis.",
      'One machine: 2 cores for every hub, every load process and Redis, so these are the figures of a crowded host, not of a deployment.',
    ],
  };
  return { id: 'scale', tables: [table], targets, data: runs };
}

async function scaleRun(
  context: Context,
  settings: { nodes: number; connections: number; messages: number; users: number },
  cluster: LocalRedisCluster | undefined,
): Promise<ScaleRun> {
  const { log } = context;
  const label = cluster ? 'Redis Cluster (3 masters)' : 'one Redis';
  process.env.SWITCHBOARD_BENCH_REDIS_PREFIX = `switchboard-bench-scale-${process.pid}-${Date.now()}`;
  if (cluster) process.env.SWITCHBOARD_BENCH_REDIS_CLUSTER = cluster.ports.map((port) => `127.0.0.1:${port}`).join(',');
  else delete process.env.SWITCHBOARD_BENCH_REDIS_CLUSTER;
  const redisPorts = cluster ? cluster.ports : [6379];
  const nodes: RunningServer[] = [];
  const loaders: BenchChild[] = [];
  try {
    for (let index = 0; index < settings.nodes; index++) nodes.push(await startServer('scale-hub-redis'));
    for (let index = 0; index < settings.nodes; index++) {
      loaders.push(await spawnChild(`scale load ${index + 1}`, { script: 'bench/load/client.ts', cpu: LOAD_CPU }));
    }
    const before = nodes.map((node) => ({ rss: rssOf(node), heap: 0 }));
    for (const [index, node] of nodes.entries())
      before[index] = { rss: rssOf(node), heap: await node.child.request<number>('heap') };
    const share = Math.ceil(settings.connections / settings.nodes);
    const started = performance.now();
    const held = await Promise.all(
      loaders.map((loader, index) => {
        const job: HoldJob = {
          url: (nodes[index] as RunningServer).wsUrl,
          protocol: 'ws',
          count: share,
          addresses: [`127.3.${index}.1`, `127.3.${index}.2`],
          inFlight: 64,
          timeBudgetMs: 240_000,
          maxConsecutiveErrors: 200,
          countMessages: true,
        };
        return loader.request<HoldResult>('hold', job, 300_000);
      }),
    );
    for (const [index, node] of nodes.entries()) {
      await until(async () => (await node.child.request<number>('connections')) >= (held[index]?.opened ?? 0), 60_000);
    }
    const openSeconds = (performance.now() - started) / 1000;
    const counts = await Promise.all(nodes.map((node) => node.child.request<number>('connections')));
    const opened = counts.reduce((sum, count) => sum + count, 0);
    log(`scale (${label}): ${opened.toLocaleString('en-US')} open in ${num(openSeconds)} s`);
    const after = await Promise.all(
      nodes.map(async (node) => ({ rss: rssOf(node), heap: await node.child.request<number>('heap') })),
    );
    const perNode = after.map((mark, index) => ({
      rss: (mark.rss - (before[index]?.rss ?? 0)) / Math.max(1, counts[index] ?? 1),
      heap: (mark.heap - (before[index]?.heap ?? 0)) / Math.max(1, counts[index] ?? 1),
    }));
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

    let seq = 0;
    const publisher = nodes[0] as RunningServer;
    // --- one room that holds every connection ---
    const roomLatency = new LatencyRecorder();
    let roomIncomplete = 0;
    await sendEverywhere(publisher, loaders, counts, ++seq); // warm-up
    const roomCpu = await redisCpu(redisPorts);
    for (let index = 0; index < settings.messages; index++) {
      const { sentAt, delivered } = await sendEverywhere(publisher, loaders, counts, ++seq);
      roomLatency.record(Math.max(...delivered.map((each) => each.lastAt)) - sentAt);
      if (delivered.some((each) => !each.complete)) roomIncomplete++;
    }
    const roomCpuUs = ((await redisCpu(redisPorts)) - roomCpu) / settings.messages;

    // --- 1,000 users' own rooms, spread over the nodes ---
    const perNodeUsers = Math.ceil(settings.users / settings.nodes);
    const users = await Promise.all(nodes.map((node) => node.child.request<string[]>('users', { count: perNodeUsers })));
    const ids = users.flat();
    const usersLatency = new LatencyRecorder();
    let usersIncomplete = 0;
    const usersCpu = await redisCpu(redisPorts);
    for (let index = 0; index < settings.messages; index++) {
      const current = ++seq;
      const waits = loaders.map((loader, node) =>
        loader.request<Delivered>('fanout-wait', { seq: current, expected: users[node]?.length ?? 0, timeoutMs: 30_000 }, 40_000),
      );
      const sent = await publisher.child.request<{ sentAt: number }>('to-users', { seq: current, bytes: MESSAGE_BYTES, ids });
      const delivered = await Promise.all(waits);
      usersLatency.record(Math.max(...delivered.map((each) => each.lastAt)) - sent.sentAt);
      if (delivered.some((each) => !each.complete)) usersIncomplete++;
    }
    const usersCpuUs = ((await redisCpu(redisPorts)) - usersCpu) / settings.messages;
    const room = roomLatency.percentiles();
    const toUsers = usersLatency.percentiles();
    log(
      `scale (${label}): room publish p50 ${num(room.p50)} ms p99 ${num(room.p99)} ms; ${ids.length} users p50 ${num(toUsers.p50)} ms`,
    );
    return {
      redis: label,
      nodes: settings.nodes,
      opened,
      openSeconds,
      perConnection: { rss: median(perNode.map((each) => each.rss)), heap: median(perNode.map((each) => each.heap)) },
      room: { p50: room.p50, p99: room.p99, incomplete: roomIncomplete, redisCpuUsPerMessage: roomCpuUs },
      users: {
        count: ids.length,
        p50: toUsers.p50,
        p99: toUsers.p99,
        incomplete: usersIncomplete,
        redisCpuUsPerMessage: usersCpuUs,
      },
    };
  } finally {
    for (const loader of loaders) await loader.kill();
    for (const node of nodes) await node.child.kill();
  }
}

/** One room publish from `publisher`, waited for on every loader (each expects its node's connections). */
async function sendEverywhere(
  publisher: RunningServer,
  loaders: BenchChild[],
  counts: number[],
  seq: number,
): Promise<{ sentAt: number; delivered: Delivered[] }> {
  const waits = loaders.map((loader, index) =>
    loader.request<Delivered>('fanout-wait', { seq, expected: counts[index] ?? 0, timeoutMs: 30_000 }, 40_000),
  );
  const sent = await publisher.child.request<{ sentAt: number }>('broadcast', { seq, bytes: MESSAGE_BYTES });
  return { sentAt: sent.sentAt, delivered: await Promise.all(waits) };
}

/** CPU µs the Redis servers on these ports have used, in all (INFO cpu). */
async function redisCpu(ports: number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const client = await connectRedis(port);
    if (!client) return Number.NaN;
    try {
      const info = await client.info('cpu');
      const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
      total += (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
    } finally {
      client.disconnect();
    }
  }
  return total;
}

function rssOf(node: RunningServer): number {
  try {
    const status = readFileSync(`/proc/${node.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return Number.NaN;
  }
}
