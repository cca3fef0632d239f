/**
 * A local Redis Cluster on loopback ports, for the tests and the bench: `redis-server
 * --cluster-enabled yes` per node, `redis-cli --cluster create`, and helpers to find and kill the
 * master of a slot. Nothing here is part of the package.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Polls `check` until it is true, or throws after `timeoutMs`. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A Redis Cluster of three masters on loopback ports `port`…`port + 2`, each with its own
 * directory for its cluster state, created with `redis-cli --cluster create`; `stop()` kills it.
 */
export class LocalRedisCluster {
  readonly ports: number[];
  private readonly servers = new Map<number, ChildProcess>();
  private readonly dir: string;

  /** `replicas`: one replica per master when 1 (six servers), for failover. */
  constructor(
    readonly port: number,
    private readonly replicas: 0 | 1 = 0,
  ) {
    this.ports = Array.from({ length: replicas ? 6 : 3 }, (_, index) => port + index);
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-cluster-'));
  }

  get nodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  async start(): Promise<void> {
    for (const port of this.ports) {
      const dir = path.join(this.dir, String(port));
      mkdirSync(dir);
      this.servers.set(
        port,
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
            '--cluster-replica-validity-factor',
            '0',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports) await redisAnswering(port);
    await execFilePromise('redis-cli', [
      '--cluster',
      'create',
      ...this.ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      String(this.replicas),
      '--cluster-yes',
    ]);
    await eventually(
      async () => {
        const infos = await Promise.all(
          this.ports.map((port) => execFilePromise('redis-cli', ['-p', String(port), 'cluster', 'info'])),
        );
        return infos.every((info) => info.includes('cluster_state:ok'));
      },
      20_000,
      'the cluster to be ok on every node',
    );
    if (this.replicas) {
      // A replica takes over only once it has synced with its master.
      await eventually(
        async () => {
          const infos = await Promise.all(
            this.ports.map((port) => execFilePromise('redis-cli', ['-p', String(port), 'info', 'replication'])),
          );
          return infos.filter((info) => info.includes('role:slave') && info.includes('master_link_status:up')).length === 3;
        },
        30_000,
        'every replica synced with its master',
      );
    }
  }

  /** The port of the master that serves `key`'s slot (a channel's, for sharded pub/sub). */
  async masterOf(key: string): Promise<number> {
    const slot = Number((await execFilePromise('redis-cli', ['-p', String(this.port), 'cluster', 'keyslot', key])).trim());
    const nodes = await execFilePromise('redis-cli', ['-p', String(this.port), 'cluster', 'nodes']);
    for (const line of nodes.split('\n')) {
      const fields = line.split(' ');
      if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
      for (const range of fields.slice(8)) {
        const [from, to = from] = range.split('-').map(Number);
        if (from !== undefined && to !== undefined && slot >= from && slot <= to)
          return Number(fields[1]?.split(':')[1]?.split('@')[0]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** Kills one server with SIGKILL, as a crashed machine would go. */
  kill(port: number): void {
    this.servers.get(port)?.kill('SIGKILL');
  }

  stop(): void {
    for (const server of this.servers.values()) server.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function execFilePromise(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
}

/** Resolves once the Redis server on `port` answers PING. */
export function redisAnswering(port: number, timeoutMs = 10_000): Promise<void> {
  const ping = () =>
    new Promise<boolean>((resolve) => {
      const probe = net.connect(port, '127.0.0.1', () => probe.write('PING\r\n'));
      probe.on('data', (data) => {
        probe.destroy();
        resolve(String(data).startsWith('+PONG'));
      });
      probe.on('error', () => resolve(false));
    });
  return eventually(ping, timeoutMs, `redis-server on port ${port} answering`);
}
