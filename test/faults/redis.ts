import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
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
export class FaultRedis {
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
  async command(args: string[], timeoutMs = 3_000): Promise<unknown> {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      const [name, ...rest] = args;
      return await Promise.race([
        redis.call(name as string, ...rest),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`redis ${args.join(' ')} timed out`)), timeoutMs)),
      ]);
    } finally {
      redis.disconnect();
    }
  }

  /** Runs `work` on a connection of its own, closed afterwards; gives up after `timeoutMs`. */
  async with<T>(work: (redis: Redis) => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    let timer: NodeJS.Timeout | undefined;
    try {
      await redis.connect();
      return await Promise.race([
        work(redis),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`redis work timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      redis.disconnect();
    }
  }

  stop(): void {
    if (this.server) signalGroup(this.server, 'SIGKILL');
    removeDirectory(this.dir);
  }
}
