import type { HubNode } from './nodes.js';
import type { Random } from './prng.js';
import type { CutKind, FaultProxy } from './proxy.js';
import type { FaultRedis, RedisUnderTest } from './redis.js';
import type { FaultRedisCluster } from './redis-cluster.js';

export const FAULT_KINDS = [
  'cut-rst',
  'cut-fin',
  'refuse',
  'node-kill',
  'node-term',
  'node-stop',
  'redis-restart',
  'redis-failover',
  'redis-kill-pubsub',
  'redis-kill-normal',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** The kinds a run injects: a single Redis is restarted, a cluster's shard fails over. */
export function faultKinds(cluster: boolean): FaultKind[] {
  return FAULT_KINDS.filter((kind) => kind !== (cluster ? 'redis-restart' : 'redis-failover'));
}

export interface FaultRecord {
  kind: FaultKind;
  at: number;
  /** When it was healed (the node back, the refusal over); the moment itself for instant faults. */
  healedAt?: number;
  /** Node index for node faults (and the proxy index of one-proxy cuts and refusals). */
  node?: number;
  detail: string;
}

export interface InjectorEnv {
  nodes: HubNode[];
  proxies: FaultProxy[];
  /** The server (`redis-restart`) or the cluster (`redis-failover`) the nodes run on. */
  redis: { kind: 'server'; server: FaultRedis } | { kind: 'cluster'; cluster: FaultRedisCluster };
  random: Random;
  /** Before Redis may lose what it holds: publishing held, the streams read, then `loss` (the shutdown, the failover) runs before publishing goes on. */
  beforeRedisLoss: (loss: () => Promise<void>) => Promise<void>;
  log: (line: string) => void;
}

/**
 * Injects one fault every `everyMs` (a range), drawn from a seeded PRNG: kinds come from a
 * shuffled bag of the run's kinds, so every kind runs once in every round (a kind that cannot
 * run now, such as a second node fault while one node is down, waits for the next draw). Faults
 * with a duration heal themselves (the node back, the refusal lifted); `healAll` cuts every
 * pending duration short and waits until everything is back.
 */
export class FaultInjector {
  readonly records: FaultRecord[] = [];
  private bag: FaultKind[] = [];
  private readonly healing = new Set<Promise<void>>();
  private nodeBusy = false;
  private redisBusy = false;
  private ending = false;
  private endNow: () => void = () => {};
  private readonly ended = new Promise<void>((resolve) => {
    this.endNow = resolve;
  });

  private readonly kinds: FaultKind[];

  constructor(private readonly env: InjectorEnv) {
    this.kinds = faultKinds(env.redis.kind === 'cluster');
  }

  private get store(): RedisUnderTest {
    return this.env.redis.kind === 'server' ? this.env.redis.server : this.env.redis.cluster;
  }

  /** How many of each of the run's kinds ran. */
  counts(): Partial<Record<FaultKind, number>> {
    const counts: Partial<Record<FaultKind, number>> = Object.fromEntries(this.kinds.map((kind) => [kind, 0]));
    for (const record of this.records) counts[record.kind] = (counts[record.kind] ?? 0) + 1;
    return counts;
  }

  /** Injects faults until `untilMs` (a Date.now() time). */
  async run(untilMs: number, everyMs: [number, number]): Promise<void> {
    for (;;) {
      const wait = this.env.random.int(everyMs[0], everyMs[1]);
      if (Date.now() + wait >= untilMs) {
        await this.sleep(untilMs - Date.now());
        return;
      }
      await this.sleep(wait);
      if (this.ending) return;
      const kind = this.draw();
      if (kind) this.inject(kind);
    }
  }

  /** Heals everything now and waits until every node, Redis and proxy is back. */
  async healAll(): Promise<void> {
    this.ending = true;
    this.endNow();
    const waiting = setInterval(() => {
      const pending = this.records.filter((record) => record.healedAt === undefined);
      this.env.log(`still healing: ${pending.map((record) => `${record.kind} ${record.detail}`).join('; ')}`);
    }, 15_000);
    try {
      while (this.healing.size > 0) await Promise.allSettled([...this.healing]);
    } finally {
      clearInterval(waiting);
    }
    this.env.log('every pending fault healed; admitting, resuming, healing the store');
    for (const proxy of this.env.proxies) proxy.admit();
    for (const node of this.env.nodes) {
      node.resume();
      if (node.status === 'down') {
        this.env.log(`${node.name} was down at the end (not by a fault of the run): restarted`);
        await node.start();
      }
    }
    await this.store.heal();
    this.env.log('the store is healthy');
  }

  private draw(): FaultKind | undefined {
    if (this.bag.length === 0) this.bag = this.env.random.shuffle(this.kinds);
    const index = this.bag.findIndex((kind) => this.possible(kind));
    if (index < 0) return undefined;
    return this.bag.splice(index, 1)[0];
  }

  private possible(kind: FaultKind): boolean {
    if (kind.startsWith('node-')) return !this.nodeBusy && this.env.nodes.some((node) => node.status === 'up');
    if (kind.startsWith('redis-')) return !this.redisBusy && this.store.running;
    return true;
  }

  private inject(kind: FaultKind): void {
    const record: FaultRecord = { kind, at: Date.now(), detail: '' };
    this.records.push(record);
    const work = this.apply(kind, record)
      .catch((error: Error) => {
        record.detail += ` (failed: ${error.message})`;
      })
      .finally(() => {
        record.healedAt ??= Date.now();
        this.env.log(`fault ${kind} ${record.detail} healed after ${record.healedAt - record.at} ms`);
        this.healing.delete(work);
      });
    this.healing.add(work);
  }

  private async apply(kind: FaultKind, record: FaultRecord): Promise<void> {
    const { random, proxies, nodes, redis } = this.env;
    const store = this.store;
    switch (kind) {
      case 'cut-rst':
      case 'cut-fin': {
        record.detail = this.cut(kind === 'cut-rst' ? 'rst' : 'fin', record);
        return;
      }
      case 'refuse': {
        const chosen = random.chance(0.4) ? proxies : [random.pick(proxies)];
        const ms = random.int(1_000, 3_000);
        // A refusal is felt by connections being made: the chosen proxies drop theirs as it starts.
        let dropped = 0;
        for (const proxy of chosen) {
          proxy.refuse(ms);
          dropped += proxy.cut('rst');
        }
        record.detail = `${chosen.map((proxy) => proxy.name).join('+')} for ${ms} ms (dropped ${dropped})`;
        await this.sleep(ms);
        for (const proxy of chosen) proxy.admit();
        return;
      }
      case 'node-kill':
      case 'node-term':
      case 'node-stop': {
        this.nodeBusy = true;
        try {
          const node = random.pick(nodes.filter((each) => each.status === 'up'));
          record.node = node.index;
          if (kind === 'node-stop') {
            const ms = random.int(1_000, 8_000);
            record.detail = `${node.name} SIGSTOP for ${ms} ms`;
            node.stop();
            await this.sleep(ms);
            node.resume();
            return;
          }
          const ms = random.int(1_000, 3_000);
          record.detail = `${node.name} ${kind === 'node-kill' ? 'SIGKILL' : 'SIGTERM'}, restarted after ${ms} ms`;
          if (kind === 'node-kill') await node.kill();
          else await node.terminate();
          await this.sleep(ms);
          await node.start();
          record.detail += ` (incarnation ${node.incarnation})`;
        } finally {
          this.nodeBusy = false;
        }
        return;
      }
      case 'redis-restart':
      case 'redis-failover': {
        this.redisBusy = true;
        try {
          if (redis.kind === 'cluster') {
            // The snapshot first; publishing goes on through the failover, which is the point of it:
            // what a killed master had not passed on is lost, the clients that got it live say so.
            record.detail = 'a shard fails over';
            await this.env.beforeRedisLoss(async () => {});
            record.detail = await redis.cluster.failover(random);
            return;
          }
          const { server } = redis;
          const ms = random.int(500, 2_000);
          record.detail = `SHUTDOWN NOSAVE, started again after ${ms} ms`;
          await this.env.beforeRedisLoss(() => server.shutdown());
          await this.sleep(ms);
          await server.startServer();
        } finally {
          this.redisBusy = false;
        }
        return;
      }
      case 'redis-kill-pubsub':
      case 'redis-kill-normal': {
        const type = kind === 'redis-kill-pubsub' ? 'pubsub' : 'normal';
        const killed = await store.killClients(type);
        record.detail = `CLIENT KILL TYPE ${type}: ${killed} killed`;
        return;
      }
    }
  }

  private cut(kind: CutKind, record: FaultRecord): string {
    const { random, proxies } = this.env;
    if (random.chance(0.3)) {
      const count = proxies.reduce((sum, proxy) => sum + proxy.cut(kind), 0);
      return `${kind.toUpperCase()} all ${count} connections`;
    }
    const proxy = random.pick(proxies);
    record.node = proxies.indexOf(proxy);
    const total = proxy.connections;
    const chosen = new Set<number>();
    for (let index = 0; index < total; index++) if (random.chance(0.5)) chosen.add(index);
    if (chosen.size === 0 && total > 0) chosen.add(random.int(0, total - 1));
    const count = proxy.cut(kind, (index) => chosen.has(index));
    return `${kind.toUpperCase()} ${count}/${total} connections of ${proxy.name}`;
  }

  /** Waits `ms`, or less once the run is ending. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.ending) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      void this.ended.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
