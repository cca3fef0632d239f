import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Cluster, Redis } from 'ioredis';
import { redisAnswering } from '../../scripts/local-redis-cluster.js';
import { exited, removeDirectory, signalGroup, track, trackDirectory } from './processes.js';

/** A free loopback port, as the kernel hands one out (released at once, for a server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The run's own redis-server on a free loopback port, without persistence, in a temporary
 * directory of its own: nothing another test or run uses, so that it can be restarted, and its
 * clients killed, at will.
 */
/** The reads the checker makes (a server's or a cluster's client). */
export type RedisReads = Pick<Redis, 'hget' | 'xrange' | 'lrange'>;

/** What the harness and the injector need of the Redis the nodes run on: one server or a cluster. */
export interface RedisUnderTest {
  /** Everything up, nothing being restarted or failed over. */
  readonly running: boolean;
  /** How the hub nodes reach it (REDIS_URL or REDIS_CLUSTER). */
  readonly nodeEnv: Record<string, string>;
  readonly description: string;
  with<T>(work: (redis: RedisReads) => Promise<T>, timeoutMs?: number): Promise<T>;
  /** CLIENT KILL TYPE `type` on every server: how many connections went. */
  killClients(type: 'pubsub' | 'normal'): Promise<number>;
  /** Everything back up. */
  heal(): Promise<void>;
  stop(): void;
}

/**
 * Runs `work` on `client` (connected first), then disconnects it; gives up after `timeoutMs`. The
 * client is a one-off of the harness, so that a fault never touches a hub's connections through it.
 */
export async function usingClient<C extends Redis | Cluster, T>(
  client: C,
  work: (client: C) => Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    // The connect is under the deadline too: a cluster client whose slot refresh meets a shard
    // in failover can wait for 'ready' without end.
    return await Promise.race([
      client.connect().then(() => work(client)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** A one-off connection to `url`, failing at once rather than retrying. */
function oneOff(url: string): Redis {
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
}

/** `args` on a one-off connection to `url`, given up after `timeoutMs`. */
export function commandOn(url: string, args: string[], timeoutMs = 3_000): Promise<unknown> {
  const [name, ...rest] = args;
  return usingClient(oneOff(url), (redis) => redis.call(name as string, ...rest), timeoutMs, `redis ${args.join(' ')}`);
}

export class FaultRedis implements RedisUnderTest {
  private server: ChildProcess | undefined;
  private readonly dir = trackDirectory(mkdtempSync(path.join(os.tmpdir(), 'switchboard-faults-')));

  private constructor(readonly port: number) {}

  static async start(): Promise<FaultRedis> {
    for (let attempt = 1; ; attempt++) {
      const redis = new FaultRedis(await freePort());
      try {
        await redis.startServer();
        return redis;
      } catch (error) {
        redis.stop();
        if (attempt >= 5) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get nodeEnv(): Record<string, string> {
    return { REDIS_URL: this.url };
  }

  get description(): string {
    return `redis :${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined && this.server.exitCode === null && this.server.signalCode === null;
  }

  /** Starts redis-server on the port (again, after a shutdown) and waits until it answers. */
  async startServer(): Promise<void> {
    const server = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { stdio: 'ignore', detached: true },
    );
    track(server);
    this.server = server;
    const died = exited(server).then(() => {
      throw new Error(`redis-server on port ${this.port} exited at start (port taken?)`);
    });
    await Promise.race([redisAnswering(this.port, 10_000), died]);
  }

  /** `SHUTDOWN NOSAVE`: the server exits and everything it held is gone. Resolves once it has exited. */
  async shutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await this.command(['SHUTDOWN', 'NOSAVE']).catch(() => {});
    await Promise.race([exited(server), new Promise((resolve) => setTimeout(resolve, 3_000))]);
    if (server.exitCode === null && server.signalCode === null) {
      signalGroup(server, 'SIGKILL');
      await exited(server);
    }
  }

  /** A one-off connection of its own (`CLIENT KILL` spares the caller: SKIPME defaults to yes). */
  command(args: string[], timeoutMs = 3_000): Promise<unknown> {
    return commandOn(this.url, args, timeoutMs);
  }

  async killClients(type: 'pubsub' | 'normal'): Promise<number> {
    return Number(await this.command(['CLIENT', 'KILL', 'TYPE', type]));
  }

  /** Started again if it was shut down. */
  async heal(): Promise<void> {
    if (!this.running) await this.startServer();
  }

  /** Runs `work` on a connection of its own, closed afterwards; gives up after `timeoutMs`. */
  with<T>(work: (redis: Redis) => Promise<T>, timeoutMs = 10_000): Promise<T> {
    return usingClient(oneOff(this.url), work, timeoutMs, 'redis work');
  }

  stop(): void {
    if (this.server) signalGroup(this.server, 'SIGKILL');
    removeDirectory(this.dir);
  }
}
