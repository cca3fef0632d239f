import net from 'node:net';
import { Cluster } from 'ioredis';
import { LocalRedisCluster } from '../../scripts/local-redis-cluster.js';
import type { Random } from './prng.js';
import { commandOn, type RedisReads, type RedisUnderTest, usingClient } from './redis.js';

/** Free when nothing listens on it (a cluster server also takes its port + 10000 for the bus). */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * The run's own Redis Cluster: three masters with one replica each, on six loopback ports of the
 * 17600–17999 range that are free (the other tests and the bench keep below). Its fault is a
 * failover of one shard, graceful (CLUSTER FAILOVER: nothing lost) or by SIGKILL of the master
 * (the writes it had not passed on are lost); the killed server is started again and rejoins as
 * the new master's replica.
 */
export class FaultRedisCluster implements RedisUnderTest {
  private busy = false;

  private constructor(private readonly cluster: LocalRedisCluster) {}

  static async start(random: Random): Promise<FaultRedisCluster> {
    for (let attempt = 1; ; attempt++) {
      const base = 17_600 + random.int(0, 39) * 10;
      const ports = Array.from({ length: 6 }, (_, index) => base + index);
      const all = await Promise.all([...ports, ...ports.map((port) => port + 10_000)].map(free));
      if (!all.every(Boolean)) {
        if (attempt >= 10) throw new Error('no six free loopback ports for the fault cluster in 17600-17999');
        continue;
      }
      const cluster = new LocalRedisCluster(base, 1);
      try {
        await cluster.start();
        return new FaultRedisCluster(cluster);
      } catch (error) {
        cluster.stop();
        if (attempt >= 3) throw error;
      }
    }
  }

  get description(): string {
    return `Redis Cluster :${this.cluster.ports.join(',:')}`;
  }

  get nodeEnv(): Record<string, string> {
    return { REDIS_CLUSTER: JSON.stringify(this.cluster.nodes) };
  }

  get running(): boolean {
    return !this.busy && this.cluster.ports.every((port) => this.cluster.running(port));
  }

  with<T>(work: (redis: RedisReads) => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const client = new Cluster(this.runningNodes(), {
      lazyConnect: true,
      clusterRetryStrategy: () => null,
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    return usingClient(client, work, timeoutMs, 'redis cluster work');
  }

  async killClients(type: 'pubsub' | 'normal'): Promise<number> {
    let killed = 0;
    for (const node of this.runningNodes()) {
      killed += Number(await commandOn(`redis://127.0.0.1:${node.port}`, ['CLIENT', 'KILL', 'TYPE', type]).catch(() => 0));
    }
    return killed;
  }

  /**
   * Fails one shard over (its master picked by `random`), graceful or by SIGKILL, and brings the
   * old master back as a replica. `detail` says which and how.
   */
  async failover(random: Random): Promise<string> {
    this.busy = true;
    try {
      const masters = (await this.cluster.topology()).filter((node) => node.master && node.slots && !node.failing);
      const master = random.pick(masters).port;
      const graceful = random.chance(0.4);
      const replica = await this.cluster.failover(master, graceful);
      if (!graceful) await this.cluster.restart(master);
      await this.cluster.healthy();
      return `shard of :${master} to its replica :${replica} (${graceful ? 'CLUSTER FAILOVER' : `master SIGKILLed, restarted as a replica`})`;
    } finally {
      this.busy = false;
    }
  }

  async heal(): Promise<void> {
    for (const port of this.cluster.ports) await this.cluster.restart(port);
    await this.cluster.healthy();
  }

  stop(): void {
    this.cluster.stop();
  }

  private runningNodes(): Array<{ host: string; port: number }> {
    return this.cluster.nodes.filter((node) => this.cluster.running(node.port));
  }
}
