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
      mkdirSync(path.join(this.dir, String(port)));
      this.spawnServer(port);
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
    await this.healthy();
  }

  /** Starts (or starts again, with the cluster state it saved) the server on `port`. */
  private spawnServer(port: number): void {
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
          path.join(this.dir, String(port)),
        ],
        { stdio: 'ignore' },
      ),
    );
  }

  /** Whether the server on `port` is running (not killed, or started again since). */
  running(port: number): boolean {
    const server = this.servers.get(port);
    return server !== undefined && server.exitCode === null && server.signalCode === null;
  }

  /**
   * Starts a killed server again with the cluster state it saved: it rejoins the cluster (as a
   * replica when its slots were taken over meanwhile). Resolves once it answers.
   */
  async restart(port: number): Promise<void> {
    if (this.running(port)) return;
    this.spawnServer(port);
    await redisAnswering(port);
  }

  /** The cluster as `port` sees it: one entry per server, with its role and its master's port. */
  async topology(port = this.ports.find((each) => this.running(each)) ?? this.port) {
    const lines = (await execFilePromise('redis-cli', ['-p', String(port), 'cluster', 'nodes'])).split('\n').filter(Boolean);
    const parsed = lines.map((line) => {
      const fields = line.split(' ');
      return {
        id: fields[0] as string,
        port: Number(fields[1]?.split(':')[1]?.split('@')[0]),
        flags: (fields[2] ?? '').split(','),
        masterId: fields[3] as string,
        slots: fields.slice(8),
      };
    });
    return parsed.map((node) => ({
      port: node.port,
      master: node.flags.includes('master'),
      failing: node.flags.some((flag) => flag === 'fail' || flag === 'fail?'),
      slots: node.slots.length > 0,
      masterPort: parsed.find((other) => other.id === node.masterId)?.port,
    }));
  }

  /** Waits until every running server says cluster_state:ok and every master with slots has a synced replica, or throws. */
  async healthy(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        const running = this.ports.filter((port) => this.running(port));
        const infos = await Promise.all(
          running.map((port) => execFilePromise('redis-cli', ['-p', String(port), 'cluster', 'info'])),
        );
        if (!infos.every((info) => info.includes('cluster_state:ok'))) return false;
        if (!this.replicas) return true;
        const replication = await Promise.all(
          running.map((port) => execFilePromise('redis-cli', ['-p', String(port), 'info', 'replication'])),
        );
        return replication.filter((info) => info.includes('role:slave') && info.includes('master_link_status:up')).length === 3;
      },
      timeoutMs,
      'the cluster to be ok, every replica synced',
    );
  }

  /**
   * Fails the master on `masterPort` over to its replica: `graceful` with CLUSTER FAILOVER on the
   * replica (it catches up first: nothing lost), otherwise the master is SIGKILLed and the replica
   * elects itself once the others see the master failing (what was not replicated yet is lost).
   * Resolves once the replica serves the slots; a killed master is not started again here.
   */
  async failover(masterPort: number, graceful: boolean, timeoutMs = 20_000): Promise<number> {
    const replica = (await this.topology(masterPort)).find((node) => node.masterPort === masterPort && !node.failing);
    if (!replica) throw new Error(`the master on ${masterPort} has no replica to fail over to`);
    if (graceful) await execFilePromise('redis-cli', ['-p', String(replica.port), 'cluster', 'failover']);
    else this.kill(masterPort);
    await eventually(
      async () => (await this.topology(replica.port)).some((node) => node.port === replica.port && node.master && node.slots),
      timeoutMs,
      `the replica on ${replica.port} to take over from ${masterPort}`,
    );
    return replica.port;
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
