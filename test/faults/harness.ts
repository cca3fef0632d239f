import { type CheckInput, type CheckResult, check, type Violation } from './checker.js';
import { FaultClient } from './clients.js';
import { FaultInjector, type FaultKind, type FaultRecord } from './faults.js';
import { HubNode } from './nodes.js';
import { Random } from './prng.js';
import { killAll } from './processes.js';
import { FaultProxy } from './proxy.js';
import { Publisher } from './publishers.js';
import { FaultRedis } from './redis.js';
import { FaultRedisCluster } from './redis-cluster.js';
import { type Lifetime, snapshot } from './truth.js';

export interface RunOptions {
  seed: number;
  /** How long faults are injected. */
  seconds: number;
  /** false: the route has no `recover` (RECOVER=0), to show that the checker finds the losses. */
  recover?: boolean;
  /** true: the nodes run on a Redis Cluster of three shards with a replica each, and a shard fails over where a single Redis would restart. */
  cluster?: boolean;
  clients?: number;
  nodes?: number;
  /** A fault every `everyMs[0]`–`everyMs[1]` ms. */
  everyMs?: [number, number];
  /** Mean gap between two publishes of each node's publisher (three publishers: ~40/s in all). */
  publishEveryMs?: number;
  /** Progress lines (faults as they run); silent by default. */
  log?: (line: string) => void;
}

export interface RunResult {
  seed: number;
  recover: boolean;
  cluster: boolean;
  faults: Partial<Record<FaultKind, number>>;
  faultLog: FaultRecord[];
  violations: Violation[];
  notes: string[];
  stats: CheckResult['stats'];
  durationMs: number;
  /** Date.now() when faults began: the origin of the `+12.3s` times in lines. */
  startedAt: number;
  /** Everything the check read, and the nodes' output, for a closer look (run.ts --dump). */
  data: { check: CheckInput; nodeLogs: Record<string, string[]> };
}

export const ROOMS = ['room-a', 'room-b', 'room-c', 'room-d'];
/** Requests time out after this; the checker's answer window is the handler's longest run, plus the claim lease, plus a margin. */
export const REQUEST_TIMEOUT_MS = 20_000;
const HANDLER_MAX_MS = 1_500;
const CLAIM_LEASE_MS = 10_000;
export const ANSWER_WINDOW_MS = HANDLER_MAX_MS + CLAIM_LEASE_MS + 1_000;
/** Clients are settled once open and nothing happened to any of them for this long. */
const QUIET_MS = 3_000;
const PRESENCE_WITHIN_MS = 30_000;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One seed: a private Redis (or Redis Cluster), three hub nodes behind fault proxies, six clients, three publishers,
 * faults for `seconds`; then everything healed, publishing stopped, the clients left to settle,
 * presence polled, and what every client got checked against the streams (checker.ts).
 */
export async function runSeed(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const recover = options.recover ?? true;
  const random = new Random(options.seed);
  const log = options.log ?? (() => {});
  const prefix = `faults${options.seed}`;
  const cluster = options.cluster ?? false;
  const server = cluster ? undefined : await FaultRedis.start();
  const redisCluster = cluster ? await FaultRedisCluster.start(random.fork('cluster')) : undefined;
  const redis = (server ?? redisCluster) as FaultRedis | FaultRedisCluster;
  const proxies: FaultProxy[] = [];
  const nodes: HubNode[] = [];
  const clients: FaultClient[] = [];
  const publishers: Publisher[] = [];
  const lifetimes: Lifetime[] = [];
  let requesting = false;
  let requestLoop: Promise<void> | undefined;
  try {
    for (let index = 0; index < (options.nodes ?? 3); index++) {
      const proxy = new FaultProxy(`proxy${index}`);
      await proxy.listen();
      proxies.push(proxy);
      nodes.push(
        new HubNode(index, `n${index}`, proxy, {
          ...redis.nodeEnv,
          PREFIX: prefix,
          SEED: String(options.seed),
          RECOVER: recover ? '1' : '0',
        }),
      );
    }
    await Promise.all(nodes.map((node) => node.start()));
    log(
      `seed ${options.seed}: ${redis.description}, nodes ${nodes.map((node) => `${node.name}:${node.port} behind :${node.proxy.port}`).join(', ')}`,
    );

    for (let index = 0; index < (options.clients ?? 6); index++) {
      const own = random.fork(`client${index}`);
      const rooms = own.shuffle(ROOMS).slice(0, own.int(2, 3)).sort();
      clients.push(new FaultClient(`c${index}`, `u${index}`, rooms, proxies, own, `faults-${options.seed}-${started}-c${index}`));
    }
    await waitFor(
      () => clients.every((client) => client.open && (!recover || client.rooms.every((room) => hasPosition(client, room)))),
      15_000,
      'every client open and placed in its rooms',
    );

    for (const node of nodes) {
      const publisher = new Publisher(node, ROOMS, random.fork(`publisher${node.index}`), options.publishEveryMs ?? 75);
      publishers.push(publisher);
      publisher.start();
    }
    requesting = true;
    requestLoop = (async () => {
      const own = random.fork('requests');
      while (requesting) {
        await delay(own.int(80, 350));
        if (requesting) own.pick(clients).request(REQUEST_TIMEOUT_MS);
      }
    })();

    const injector = new FaultInjector({
      nodes,
      proxies,
      redis: server ? { kind: 'server', server } : { kind: 'cluster', cluster: redisCluster as FaultRedisCluster },
      random: random.fork('faults'),
      log,
      beforeRedisLoss: async (loss) => {
        // Publishing held while the streams are read, so that the snapshot holds all this lifetime recorded.
        await Promise.all(publishers.map((publisher) => publisher.pause()));
        await delay(300);
        lifetimes.push(await snapshot(redis, prefix, ROOMS));
        try {
          await loss();
        } finally {
          for (const publisher of publishers) publisher.resume();
        }
      },
    });
    const faultsFrom = Date.now();
    await injector.run(faultsFrom + options.seconds * 1_000, options.everyMs ?? [1_000, 4_000]);
    log('healing');
    await injector.healAll();
    log('healed; live traffic for 2 s');
    // Live traffic on a healed cluster for a while, then quiet.
    await delay(2_000);
    requesting = false;
    await requestLoop;
    log('stopping the publishers');
    await Promise.all(publishers.map((publisher) => publisher.stop()));
    log('settling');
    await waitFor(
      () =>
        clients.every((client) => client.open) &&
        Date.now() - Math.max(...clients.map((client) => client.lastEventAt)) >= QUIET_MS,
      20_000,
      'clients open and quiet',
    ).catch((error: Error) => log(error.message));
    // A client that is not back 20 s after everything healed breaks "after a close the app did not ask for, the client tries again".
    const stuck: Violation[] = clients
      .filter((client) => !client.open)
      .map((client) => ({
        kind: 'not-open' as const,
        client: client.id,
        detail: `not open 20 s after healing (state ${JSON.stringify(client.connection.state)})`,
      }));
    const [presence] = await Promise.all([
      checkPresence(nodes, clients),
      waitFor(
        () => clients.every((client) => client.pendingRequests === 0),
        REQUEST_TIMEOUT_MS + 2_000,
        'requests settled',
      ).catch((error: Error) => log(error.message)),
    ]);
    log('reading the final snapshot');
    lifetimes.push(await snapshot(redis, prefix, ROOMS));
    log('checking');

    const input: CheckInput = {
      recover,
      rooms: ROOMS,
      lifetimes,
      clients: clients.map((client) => ({
        id: client.id,
        user: client.user,
        rooms: client.rooms,
        events: client.events,
        requests: client.requests,
      })),
      published: publishers.flatMap((publisher) => publisher.published),
      runs: nodes.flatMap((node) => node.runs),
      faults: injector.records,
      answerWindowMs: ANSWER_WINDOW_MS,
      startedAt: faultsFrom,
    };
    const result = check(input);
    for (const client of clients) {
      for (const error of new Set(client.errors)) result.notes.push(`${client.id} reported: ${error}`);
    }
    return {
      seed: options.seed,
      recover,
      cluster,
      faults: injector.counts(),
      faultLog: injector.records,
      violations: [...result.violations, ...stuck, ...presence],
      notes: result.notes,
      stats: result.stats,
      durationMs: Date.now() - started,
      startedAt: faultsFrom,
      data: { check: input, nodeLogs: Object.fromEntries(nodes.map((node) => [node.name, node.log])) },
    };
  } finally {
    requesting = false;
    for (const client of clients) client.close();
    for (const publisher of publishers) await publisher.stop().catch(() => {});
    for (const proxy of proxies) await proxy.close().catch(() => {});
    await Promise.all(nodes.map((node) => node.kill().catch(() => {})));
    redis.stop();
    killAll();
  }
}

function hasPosition(client: FaultClient, room: string): boolean {
  return client.events.some((event) => event.kind === 'pos' && event.room === room);
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}

/**
 * Every node's `presence(room)` against the clients in the room (one connection each), polled
 * until they all agree or 30 s have passed; what still differs then is a violation.
 */
async function checkPresence(nodes: HubNode[], clients: FaultClient[]): Promise<Violation[]> {
  const deadline = Date.now() + PRESENCE_WITHIN_MS;
  for (;;) {
    const differences: Violation[] = [];
    for (const node of nodes) {
      for (const room of ROOMS) {
        const expected = clients
          .filter((client) => client.open && client.rooms.includes(room))
          .map((client) => `${client.user}×1`)
          .sort();
        let seen: string[];
        try {
          const response = await fetch(`${node.base}/?action=presence&room=${room}`, { signal: AbortSignal.timeout(2_000) });
          const members = (await response.json()) as Array<{ userId: string; connections: number }> | { error: string };
          if (!Array.isArray(members)) throw new Error(members.error);
          seen = members.map((member) => `${member.userId}×${member.connections}`).sort();
        } catch (error) {
          seen = [`(error: ${(error as Error).message})`];
        }
        if (seen.join() !== expected.join()) {
          differences.push({
            kind: 'presence',
            room,
            detail: `${node.name}.${node.incarnation} says [${seen.join(', ')}], the clients in the room are [${expected.join(', ')}] (30 s after healing)`,
          });
        }
      }
    }
    if (differences.length === 0 || Date.now() > deadline) return differences;
    await delay(500);
  }
}

/** The report of one seed: faults by kind, then every violation, one line each. */
export function formatResult(result: RunResult): string[] {
  const lines = [
    `seed ${result.seed}${result.cluster ? ' on Redis Cluster' : ''}${result.recover ? '' : ' (route without recover)'}: ${result.violations.length} violation(s) in ${(result.durationMs / 1000).toFixed(0)} s`,
    `  faults: ${Object.entries(result.faults)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ')}`,
    `  stats: ${Object.entries(result.stats)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')}`,
  ];
  const byKind = new Map<string, number>();
  for (const violation of result.violations) byKind.set(violation.kind, (byKind.get(violation.kind) ?? 0) + 1);
  for (const fault of result.faultLog) {
    lines.push(
      `  fault +${((fault.at - result.startedAt) / 1000).toFixed(1)}s ${fault.kind}: ${fault.detail} (${((fault.healedAt ?? fault.at) - fault.at).toString()} ms)`,
    );
  }
  if (byKind.size > 0) lines.push(`  violations by kind: ${[...byKind].map(([kind, count]) => `${kind} ${count}`).join(', ')}`);
  for (const violation of result.violations) {
    lines.push(
      `  VIOLATION [seed ${result.seed}] ${violation.kind}${violation.client ? ` client ${violation.client}` : ''}${violation.room ? ` room ${violation.room}` : ''}: ${violation.detail}`,
    );
  }
  for (const note of result.notes) lines.push(`  note: ${note}`);
  return lines;
}
