/**
 * Fan-out: one message to every one of 1k and 10k local `ws` connections. The hub's broadcast
 * frames the message once and writes the same frame to every socket; the plain loop users write by
 * hand (`clients.forEach(c => c.send(msg))`) frames it once per recipient; Socket.IO's
 * `io.to(room).emit` encodes once and writes a packet per recipient. Then the hub across two
 * processes through Redis: how long a message published on one node takes to reach clients on
 * the other, against the same clients reached from their own node.
 */
import { createConnection } from 'node:net';
import type { BenchChild } from '../children.js';
import type { Context } from '../context.js';
import { cell, num, ratioCell, type SectionResult, type Table, type Target } from '../report.js';
import type { VariantName } from '../servers/variants.js';
import { LatencyRecorder, pairedRatios, summarize } from '../stats.js';
import { holdConnections, type RunningServer, rotate, startServer } from './session.js';
import { until } from './wait.js';

export interface FanoutRound {
  recipients: number;
  /** Event-loop time of the broadcast call itself, ms per message, median over the messages. */
  callMs: number;
  /** Server CPU time per message, the writes' completion included, µs. */
  cpuUsPerMessage: number;
  /** From the call to the last recipient's receipt, ms. */
  lastP50: number;
  lastP99: number;
  incomplete: number;
}

interface Sent {
  sentAt: number;
  syncMs: number;
}

interface Delivered {
  received: number;
  firstAt: number;
  lastAt: number;
  complete: boolean;
}

const LOCAL: [VariantName, string][] = [
  ['fanout-hub', 'hub.publish (frame once)'],
  ['fanout-bare', 'ws: clients.forEach(c => c.send(msg))'],
  ['fanout-socketio', 'Socket.IO: io.to(room).emit'],
  ['fanout-floor', 'floor: a prebuilt frame, socket.write per recipient'],
];
export const FANOUT_TARGET = 1;
/** hub.publish within this of the floor (server CPU per message). */
export const FANOUT_FLOOR_TARGET = 1.05;

export async function fanoutSection(context: Context): Promise<SectionResult> {
  const { config, log } = context;
  const variants = LOCAL.map(([variant]) => variant);
  // results[`${count}/${size}`][variant] = rounds
  const results = new Map<string, Map<VariantName, FanoutRound[]>>();
  const key = (count: number, size: number) => `${count}/${size}`;
  for (const count of config.fanout.counts) {
    for (const size of config.fanout.sizes) results.set(key(count, size), new Map(variants.map((variant) => [variant, []])));
    for (let round = 0; round < config.rounds.fanout; round++) {
      for (const variant of rotate(variants, round)) {
        const bySize = await measureLocal(context, variant, count);
        for (const [size, entry] of bySize) {
          results.get(key(count, size))?.get(variant)?.push(entry);
          log(
            `fanout r${round + 1} ${variant} ${count} × ${size} B: call ${num(entry.callMs)} ms, ${num(entry.cpuUsPerMessage)} µs CPU/message, ` +
              `last recipient p50 ${num(entry.lastP50)} ms p99 ${num(entry.lastP99)} ms${entry.incomplete ? `, ${entry.incomplete} incomplete` : ''}`,
          );
        }
      }
    }
  }

  const rows: string[][] = [];
  const targets: Target[] = [];
  for (const count of config.fanout.counts) {
    for (const size of config.fanout.sizes) {
      const byVariant = results.get(key(count, size)) ?? new Map<VariantName, FanoutRound[]>();
      const hub = byVariant.get('fanout-hub') ?? [];
      const pick = (entries: FanoutRound[], field: keyof FanoutRound) => entries.map((entry) => entry[field]);
      for (const [variant, label] of LOCAL) {
        const entries = byVariant.get(variant) ?? [];
        const versus = variant === 'fanout-hub' ? undefined : entries;
        rows.push([
          count.toLocaleString('en-US'),
          `${size.toLocaleString('en-US')} B`,
          label,
          cell(summarize(pick(entries, 'callMs'))),
          versus ? ratioCell(pairedRatios(pick(versus, 'callMs'), pick(hub, 'callMs'))) : '',
          cell(summarize(pick(entries, 'cpuUsPerMessage'))),
          versus ? ratioCell(pairedRatios(pick(versus, 'cpuUsPerMessage'), pick(hub, 'cpuUsPerMessage'))) : '',
          cell(summarize(pick(entries, 'lastP50'))),
          cell(summarize(pick(entries, 'lastP99'))),
          String(entries.reduce((sum, entry) => sum + entry.incomplete, 0)),
        ]);
      }
      const speedup = pairedRatios(pick(byVariant.get('fanout-bare') ?? [], 'cpuUsPerMessage'), pick(hub, 'cpuUsPerMessage'));
      const met = speedup.n === 0 ? undefined : speedup.median > FANOUT_TARGET;
      targets.push({
        name: `fan-out, ${count.toLocaleString('en-US')} ws clients × ${size.toLocaleString('en-US')} B`,
        wanted: 'hub.publish ahead of the plain send loop (server CPU per message)',
        measured: `plain loop ÷ hub ${ratioCell(speedup)}`,
        met,
        note:
          met === false
            ? `behind by ${((1 - speedup.median) * 100).toFixed(0)} %: each recipient costs one write system call either way, ` +
              'which leaves framing once little to save on small messages'
            : undefined,
      });
      const overFloor = pairedRatios(pick(hub, 'cpuUsPerMessage'), pick(byVariant.get('fanout-floor') ?? [], 'cpuUsPerMessage'));
      const nearFloor = overFloor.n === 0 ? undefined : overFloor.median <= FANOUT_FLOOR_TARGET;
      targets.push({
        name: `fan-out near the floor, ${count.toLocaleString('en-US')} ws clients × ${size.toLocaleString('en-US')} B`,
        wanted: `hub.publish ≤ ${FANOUT_FLOOR_TARGET} × the floor (server CPU per message)`,
        measured: `hub ÷ floor ${ratioCell(overFloor)}`,
        met: nearFloor,
        note: nearFloor === false ? `over by ${((overFloor.median - FANOUT_FLOOR_TARGET) * 100).toFixed(0)} points` : undefined,
      });
    }
  }

  const tables: Table[] = [
    {
      title: 'Fan-out: one message to every local ws client',
      columns: [
        'clients',
        'message',
        'server',
        'call ms',
        'this ÷ hub',
        'CPU µs/message',
        'this ÷ hub',
        'last delivery p50 ms',
        'p99 ms',
        'incomplete',
      ],
      rows,
      notes: [
        `${config.rounds.fanout} rounds, servers in a rotated order, a fresh server process each time; per round ` +
          `${config.fanout.warmupMessages} warm-up messages, then ${config.fanout.messages} measured, one at a time, for ` +
          'each message size, on the same connections; text messages; median (min–max) of the rounds.',
        '"call ms": how long the broadcast call held the server\'s event loop (median over the messages). "CPU µs/message": ' +
          "the server process's CPU time over the measured messages, writes completed, divided by the messages; it " +
          'includes the two IPC messages per broadcast that drive the run (a few µs).',
        '"last delivery": from the call to the moment the last client got the message, on the machine\'s clock; it ' +
          "includes the load process's own time to read every client's frame, and is the same work for every server.",
        '"this ÷ hub" > 1 means the alternative costs more than the hub.',
      ],
    },
  ];

  let crossNode: CrossNodeResult | undefined;
  const redisUrl = process.env.SWITCHBOARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(redisUrl)) {
    crossNode = await measureCrossNode(context);
    tables.push(crossNodeTable(context, crossNode));
  } else {
    log(`fanout: no Redis at ${redisUrl}; cross-node latency not measured`);
    tables.push({
      title: 'Fan-out across two nodes through Redis',
      columns: ['result'],
      rows: [[`not measured: no Redis answering at ${redisUrl}`]],
      notes: [],
    });
  }
  return {
    id: 'fanout',
    tables,
    targets,
    data: {
      local: Object.fromEntries([...results].map(([countAndSize, byVariant]) => [countAndSize, Object.fromEntries(byVariant)])),
      crossNode,
    },
  };
}

async function measureLocal(context: Context, variant: VariantName, count: number): Promise<Map<number, FanoutRound>> {
  const { config, load } = context;
  const server = await startServer(variant);
  try {
    await load.request('fanout-reset');
    const held = await holdConnections(load, server, count, { countMessages: true });
    await until(async () => (await server.child.request<number>('connections')) >= held.opened, 30_000);
    const recipients = await server.child.request<number>('connections');
    let seq = 0;
    const bySize = new Map<number, FanoutRound>();
    for (const size of config.fanout.sizes) {
      const one = () => sendAndAwait(server, load, ++seq, size, recipients);
      for (let index = 0; index < config.fanout.warmupMessages; index++) await one();
      const calls: number[] = [];
      const last = new LatencyRecorder();
      let incomplete = 0;
      const cpuStart = await server.child.request<{ cpu: NodeJS.CpuUsage }>('cpu');
      for (let index = 0; index < config.fanout.messages; index++) {
        const { sent, delivered } = await one();
        calls.push(sent.syncMs);
        last.record(delivered.lastAt - sent.sentAt);
        if (!delivered.complete) incomplete++;
      }
      const cpuEnd = await server.child.request<{ cpu: NodeJS.CpuUsage }>('cpu');
      const cpuUs = cpuEnd.cpu.user + cpuEnd.cpu.system - (cpuStart.cpu.user + cpuStart.cpu.system);
      const percentiles = last.percentiles();
      bySize.set(size, {
        recipients,
        callMs: summarize(calls).median,
        cpuUsPerMessage: cpuUs / config.fanout.messages,
        lastP50: percentiles.p50,
        lastP99: percentiles.p99,
        incomplete,
      });
    }
    return bySize;
  } finally {
    await server.child.kill();
    await load.request('release');
  }
}

/** Asks `publisher` to broadcast message `seq` and waits until `expected` clients of the load got it. */
async function sendAndAwait(
  publisher: RunningServer,
  load: BenchChild,
  seq: number,
  bytes: number,
  expected: number,
): Promise<{ sent: Sent; delivered: Delivered }> {
  // Waiting is registered first, so that a fast delivery is not missed; the broadcast goes next.
  const delivered = load.request<Delivered>('fanout-wait', { seq, expected, timeoutMs: 15_000 }, 20_000);
  const sent = await publisher.child.request<Sent>('broadcast', { seq, bytes });
  return { sent, delivered: await delivered };
}

interface CrossNodeResult {
  clients: number;
  messages: number;
  crossNode: { p50: number; p99: number; incomplete: number };
  local: { p50: number; p99: number; incomplete: number };
}

/**
 * Two hub processes on one Redis; the load's clients all on node B. Messages alternate between
 * being published on node A (they cross Redis) and on node B (the same clients, reached locally).
 */
async function measureCrossNode(context: Context): Promise<CrossNodeResult> {
  const { config, load, log } = context;
  process.env.SWITCHBOARD_BENCH_REDIS_PREFIX = `switchboard-bench-${process.pid}-${Date.now()}`;
  const nodeA = await startServer('fanout-hub-redis');
  const nodeB = await startServer('fanout-hub-redis');
  try {
    await load.request('fanout-reset');
    const held = await holdConnections(load, nodeB, config.fanout.crossNode.clients, { countMessages: true });
    await until(async () => (await nodeB.child.request<number>('connections')) >= held.opened, 30_000);
    const recipients = await nodeB.child.request<number>('connections');
    // One side per publishing node: [published on A (crosses Redis), published on B (local)].
    const sides = [0, 1].map(() => ({ latency: new LatencyRecorder(), incomplete: 0 }));
    const bytes = crossNodeBytes(config);
    let seq = 0;
    for (let index = 0; index < config.fanout.warmupMessages; index++) {
      await sendAndAwait(nodeA, load, ++seq, bytes, recipients);
    }
    for (let index = 0; index < config.fanout.crossNode.messages; index++) {
      const side = index % 2;
      const { sent, delivered } = await sendAndAwait(side === 0 ? nodeA : nodeB, load, ++seq, bytes, recipients);
      const entry = sides[side] as (typeof sides)[number];
      entry.latency.record(delivered.lastAt - sent.sentAt);
      if (!delivered.complete) entry.incomplete++;
    }
    const [crossNode, sameNode] = sides.map(({ latency, incomplete }) => {
      const { p50, p99 } = latency.percentiles();
      return { p50, p99, incomplete };
    }) as [CrossNodeResult['crossNode'], CrossNodeResult['local']];
    log(
      `fanout cross-node: p50 ${num(crossNode.p50)} ms, p99 ${num(crossNode.p99)} ms; same node p50 ${num(sameNode.p50)} ms, ` +
        `p99 ${num(sameNode.p99)} ms`,
    );
    return { clients: recipients, messages: config.fanout.crossNode.messages, crossNode, local: sameNode };
  } finally {
    await nodeA.child.kill();
    await nodeB.child.kill();
    await load.request('release');
  }
}

/** Cross-node latency is measured with the smallest message: the figure is about the hop, not the payload. */
function crossNodeBytes(config: Context['config']): number {
  return Math.min(...config.fanout.sizes);
}

function crossNodeTable(context: Context, result: CrossNodeResult): Table {
  const { config } = context;
  return {
    title: `Fan-out across two nodes through Redis: ${result.clients} ws clients on node B`,
    columns: ['published on', 'last delivery p50 ms', 'p99 ms', 'incomplete'],
    rows: [
      ['node A (crosses Redis)', num(result.crossNode.p50), num(result.crossNode.p99), String(result.crossNode.incomplete)],
      ['node B (the clients’ own node)', num(result.local.p50), num(result.local.p99), String(result.local.incomplete)],
    ],
    notes: [
      `Two hub processes with redisBroker() on the Redis at 127.0.0.1:6379; ${result.messages} messages of ` +
        `${crossNodeBytes(config)} bytes, one at a time, alternating between the nodes; latency from the publish call to the ` +
        'last client’s receipt, on the machine’s clock. Both nodes share core 0; Redis runs unpinned.',
    ],
  };
}

/** Whether a Redis server answers PING at `url`, within a second. */
function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => done(data.toString('latin1').startsWith('+PONG')));
  });
}
