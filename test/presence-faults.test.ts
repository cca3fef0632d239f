// Presence under faults (issue 25): after healing, every node's presence(room) is the truth, with
// no ghost of a killed or paused node and no member missing, and every node's events end where
// each user is. Real hub processes on real Redis, real `ws` clients with identities.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { PresenceEvent } from '../src/index.js';
import { startClusterNode } from './cluster-node.js';
import { delay, LocalRedisCluster, redisAnswering } from './helpers.js';
import { brief, HEAL_MS, healed, type Node, World } from './presence-world.js';

const REDIS = 'redis://127.0.0.1:6379';

/** The ids of the normal (not subscribed) Redis connections of process `pid`: its command connections. */
async function commandConnections(admin: Redis, pid: number): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ss', ['-Htnp', 'state', 'established', '( dport = :6379 )']);
  const ports = new Set(
    stdout
      .split('\n')
      .filter((line) => line.includes(`pid=${pid},`))
      .map((line) => line.trim().split(/\s+/)[2]?.split(':').at(-1)),
  );
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=') as [string, string])))
    .filter((client) => ports.has(client.addr?.split(':').at(-1)) && client.flags === 'N')
    .map((client) => client.id as string);
}

/** A redis-server of the test's own that keeps its data across a restart (AOF, every write). */
class PersistentRedis {
  private server: ChildProcess | undefined;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'presence-faults-'));

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    this.server = spawn('redis-server', [...args, '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
    await redisAnswering(this.port);
  }

  kill(): void {
    this.server?.kill('SIGKILL');
  }

  remove(): void {
    this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Two hub processes on a Redis Cluster of the test's own (three shards, a replica each), and a client of it; all gone after the test. */
async function twoNodesOnCluster(t: TestContext, port: number, name: string) {
  const cluster = new LocalRedisCluster(port, 1);
  await cluster.start();
  const prefix = `${name}-${randomUUID()}`;
  const env = { REDIS_CLUSTER: cluster.nodes.map((node) => `${node.host}:${node.port}`).join(','), PREFIX: prefix };
  const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
  const admin = new Cluster(cluster.nodes);
  t.after(async () => {
    admin.disconnect();
    await Promise.all([a.stop(), b.stop()]);
    cluster.stop();
  });
  return { cluster, prefix, a, b, admin };
}

describe('presence under faults: after healing, every node says the truth', () => {
  it('a node paused past its liveness is reaped, then written again when it resumes', { timeout: 120_000 }, async (t) => {
    const env = { REDIS_URL: REDIS, PREFIX: `presence-faults-${randomUUID()}` };
    const [a, b, p] = await Promise.all([startClusterNode(env), startClusterNode(env), startClusterNode(env)]);
    t.after(async () => {
      process.kill(p.pid, 'SIGCONT');
      await Promise.all([a.stop(), b.stop(), p.stop()]);
    });
    const world = new World();
    await world.connect(a, 'ann', ['rp']);
    await world.connect(p, 'bob', ['rp']);
    await world.connect(p, 'bob', ['rp']);
    await world.connect(p, 'cat', ['rp']);
    await world.connect(p, 'dan', ['rp']);
    await world.connect(b, 'dan', ['rp']);
    const eve = await world.connect(p, 'eve', ['rp']);
    await healed(world, 'rp', [a, b, p]);

    process.kill(p.pid, 'SIGSTOP');
    // Reaped: bob's leave on A (the other nodes took P for dead).
    const deadline = Date.now() + HEAL_MS;
    while (
      !(await a.do<PresenceEvent[]>('presence-events')).some((e) => e.room === 'rp' && e.userId === 'bob' && e.type === 'leave')
    ) {
      assert.ok(Date.now() < deadline, 'the paused node is reaped');
      await delay(250);
    }
    // While it sleeps: one of its clients goes away, a user arrives elsewhere.
    world.drop(eve);
    await world.connect(b, 'fay', ['rp']);
    process.kill(p.pid, 'SIGCONT');
    // Its sockets were kept by the kernel: bob, cat and dan are there again, eve is not.
    await healed(world, 'rp', [a, b, p]);
  });

  it('a node killed with SIGKILL, then a replacement with the same routes', { timeout: 120_000 }, async (t) => {
    const env = { REDIS_URL: REDIS, PREFIX: `presence-faults-${randomUUID()}` };
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    let replacement: Node | undefined;
    t.after(() => Promise.all([a.stop(), b.stop(), replacement?.stop()]));
    const world = new World();
    await world.connect(a, 'ann', ['rk']);
    await world.connect(b, 'bob', ['rk']);
    await world.connect(b, 'bob', ['rk']);
    await world.connect(b, 'cat', ['rk']);
    await world.connect(b, 'eve', ['rk']);
    await healed(world, 'rk', [a, b]);

    await b.stop(); // SIGKILL: no goodbye
    world.lost(b);
    replacement = await startClusterNode(env);
    // Some come back at once, through the replacement (before the dead node is reaped); eve does not.
    await world.connect(replacement, 'bob', ['rk']);
    await world.connect(replacement, 'cat', ['rk']);
    await world.connect(replacement, 'dan', ['rk']);
    await healed(world, 'rk', [a, replacement], [replacement]);
  });

  it('Redis restarted with its data: what closed during the outage leaves no ghost', { timeout: 120_000 }, async (t) => {
    const redis = new PersistentRedis(16397);
    await redis.start();
    const env = { REDIS_URL: redis.url, PREFIX: `presence-faults-${randomUUID()}` };
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    t.after(async () => {
      await Promise.all([a.stop(), b.stop()]);
      redis.remove();
    });
    const world = new World();
    await world.connect(a, 'ann', ['rr']);
    const bob = await world.connect(b, 'bob', ['rr']);
    await world.connect(b, 'bob', ['rr']);
    const cat = await world.connect(b, 'cat', ['rr']);
    await healed(world, 'rr', [a, b]);

    redis.kill();
    await delay(300);
    // During the outage: two connections close, one opens (its join cannot reach Redis).
    world.drop(bob);
    world.drop(cat);
    await world.connect(a, 'ann', ['rr'], false);
    await world.connect(a, 'dan', ['rr'], false);
    await delay(1_000);
    await redis.start(); // with what it had: cat and both of bob's connections
    await healed(world, 'rr', [a, b]);
  });

  it("a node's Redis connection reset while its users come and go: nothing done meanwhile is lost", {
    timeout: 120_000,
  }, async (t) => {
    const env = { REDIS_URL: REDIS, PREFIX: `presence-faults-${randomUUID()}` };
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    const admin = new Redis(REDIS);
    t.after(async () => {
      admin.disconnect();
      await Promise.all([a.stop(), b.stop()]);
    });
    const world = new World();
    await world.connect(a, 'ann', ['rc']);
    const stay = [await world.connect(b, 'u0', ['rc']), await world.connect(b, 'u1', ['rc'])];
    await healed(world, 'rc', [a, b]);

    for (let round = 0; round < 12; round++) {
      // The node has its connections back from the last round: reset them again.
      let ids = await commandConnections(admin, b.pid);
      for (const deadline = Date.now() + 10_000; ids.length === 0 && Date.now() < deadline; await delay(20)) {
        ids = await commandConnections(admin, b.pid);
      }
      assert.ok(ids.length > 0, "the node's command connections are found");
      for (const id of ids) await admin.client('KILL', 'ID', id);
      await delay(20);
      // Right after the reset, before the node has its connection back: a user arrives, one
      // leaves the room, one goes away, one comes back into it.
      await world.connect(b, `v${round}`, ['rc'], false);
      const mine = world.clients.filter((client) => client.node === b && client.open && !stay.includes(client));
      const leaving = mine[round % Math.max(mine.length, 1)];
      if (round % 3 === 0 && leaving) world.drop(leaving);
      else if (round % 3 === 1 && leaving?.rooms.has('rc')) world.leave(leaving, 'rc');
      else if (leaving && !leaving.rooms.has('rc')) world.join(leaving, 'rc');
      await delay(round % 2 === 0 ? 50 : 400);
    }
    await healed(world, 'rc', [a, b]);
  });

  it('a failover that lost acknowledged writes: the promoted replica is written right, no ghost, nobody missing', {
    timeout: 120_000,
  }, async (t) => {
    const { cluster, prefix, a, b, admin } = await twoNodesOnCluster(t, 17331, 'presence-failover');
    const world = new World();
    await world.connect(a, 'ann', ['rf']);
    await world.connect(b, 'bob', ['rf']);
    const cat = await world.connect(b, 'cat', ['rf']);
    await healed(world, 'rf', [a, b]);

    // What a master killed before its replica had its last writes leaves behind, made by hand on
    // the master (a replica lagging by a few writes cannot be had on cue): cat's leave, which
    // Redis acknowledged, is undone (a ghost), and bob's join is gone (a member missing). Neither
    // changes what the nodes' own indexes count, so only the failover can tell the nodes.
    const [shares, users] = [`${prefix}:presence:{rf}:n`, `${prefix}:presence:{rf}:u`];
    const catShare = Object.keys(await admin.hgetall(shares)).find((field) => field.endsWith('\tcat'));
    const bobShare = Object.keys(await admin.hgetall(shares)).find((field) => field.endsWith('\tbob'));
    assert.ok(catShare && bobShare, `the nodes' shares are in ${shares}`);
    world.drop(cat);
    await healed(world, 'rf', [a, b]);
    await admin.hset(shares, catShare, '1');
    await admin.hset(users, 'cat', '1');
    await admin.hset(`${prefix}:presence:{rf}:t`, 'cat', 't');
    await admin.hdel(shares, bobShare);
    await admin.hdel(users, 'bob');
    assert.equal(brief(await a.do('presence', { room: 'rf' })), 'ann×1 cat×1', 'the lost writes, as a node reads them');

    await cluster.failover(await cluster.masterOf(shares), true);
    await healed(world, 'rf', [a, b]);

    // A leave lost the same way by a node that dies before it sees the failover: the node that
    // reaps it finds the room and user in its index still, and writes the leave again.
    const dan = await world.connect(b, 'dan', ['rf']);
    await healed(world, 'rf', [a, b]);
    const danShare = Object.keys(await admin.hgetall(shares)).find((field) => field.endsWith('\tdan'));
    assert.ok(danShare, `dan's share is in ${shares}`);
    world.drop(dan);
    await healed(world, 'rf', [a, b]);
    await admin.hset(shares, danShare, '1');
    await admin.hset(users, 'dan', '1');
    await admin.hset(`${prefix}:presence:{rf}:t`, 'dan', 't');
    await b.stop(); // SIGKILL
    world.lost(b);
    await healed(world, 'rf', [a]);
  });
});

describe('presence on Redis Cluster: a node that dies while its index shard is down', () => {
  it('leaves no ghost: a share is written only once its index entry is in', { timeout: 120_000 }, async (t) => {
    const { cluster, prefix, a, b, admin } = await twoNodesOnCluster(t, 17341, 'presence-index');
    const world = new World();
    await world.connect(a, 'ann', ['lobby']);
    const bea = await world.connect(b, 'bea', ['lobby']);
    await healed(world, 'lobby', [a, b]);
    // b's index (the rooms and users it has shares of) is one key, on one shard; a room on another.
    const indexes = (await admin.smembers(`${prefix}:presence:nodes`)).map((node) => `${prefix}:presence:node:{${node}}`);
    const members = await Promise.all(indexes.map((index) => admin.smembers(index)));
    const index = indexes[members.findIndex((list) => list.includes(JSON.stringify(['lobby', 'bea'])))];
    assert.ok(index, `b's index among ${indexes}`);
    const indexMaster = await cluster.masterOf(index);
    let room = '';
    for (let i = 0; room === ''; i++) {
      if ((await cluster.masterOf(`${prefix}:presence:{ri-${i}}:n`)) !== indexMaster) room = `ri-${i}`;
    }

    // The index's master dies (its replica takes over some seconds later); bea joins a room on b
    // meanwhile, whose share goes to a shard that answers, and b dies while its index entry waits
    // in the client for a master to take it.
    cluster.kill(indexMaster);
    world.join(bea, room);
    await delay(500);
    await b.stop(); // SIGKILL
    world.lost(b);
    // b is reaped once its liveness key expires (15 s): through its index, which lacks the room.
    await healed(world, room, [a]);
    await healed(world, 'lobby', [a]);
  });
});
