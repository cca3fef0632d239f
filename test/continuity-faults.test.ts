import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startClusterNode } from './cluster-node.js';
import { FaultProxy } from './faults/proxy.js';
import { FaultRedis } from './faults/redis.js';
import { delay } from './helpers.js';

// Continuity when Redis connections are reset or Redis restarts under running nodes: real hub
// processes (fixtures/cluster/node.ts, HISTORY on) on a redis-server of the test's own, so that
// its clients can be killed and it can be restarted without touching anything else. The client
// is a raw ws client of the recovering route, so every frame the server sent is seen as sent.

type Frame = { sb?: string; room?: string; offset?: number; epoch?: string; data?: unknown; reason?: string };

const stops: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop();
});

async function privateRedis(): Promise<FaultRedis> {
  const redis = await FaultRedis.start();
  stops.push(() => redis.stop());
  return redis;
}

async function node(redis: { url: string }) {
  const started = await startClusterNode({ REDIS_URL: redis.url, PREFIX: 'faults', HISTORY: '1' });
  stops.push(() => started.stop());
  return started;
}

/** Every frame the server sent, parsed (`plain`: a frame that is not one of ours). */
async function follow(base: string, room: string, resume?: Record<string, [number, string]>) {
  const query = new URLSearchParams({ room });
  if (resume) query.set('sb_resume', Buffer.from(JSON.stringify(resume)).toString('base64url'));
  const ws = new WebSocket(`${base}/recover?${query}`);
  const frames: Array<Frame & { plain?: string }> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    try {
      const frame = JSON.parse(text) as Frame;
      frames.push(typeof frame === 'object' && frame !== null && 'sb' in frame ? frame : { plain: text });
    } catch {
      frames.push({ plain: text });
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  stops.push(() => ws.terminate());
  return { ws, frames, messages: () => frames.filter((frame) => frame.sb === 'msg') };
}

/** The offsets of the messages a client got, in the order it got them. */
function offsets(messages: Frame[]): number[] {
  return messages.map((frame) => frame.offset as number);
}

/** Runs `check` until it stops throwing; its last error after `timeoutMs`. */
async function until(check: () => unknown, { timeoutMs = 10_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(20);
    }
  }
}

/** Waits for the client's first position in its room (the route joined it). */
async function placed(client: { frames: Frame[] }): Promise<void> {
  await until(() =>
    assert.ok(
      client.frames.some((frame) => frame.sb === 'pos'),
      'a position on joining',
    ),
  );
}

/**
 * Waits until the node has noticed that it lost Redis (its hub reported it: until then its broker
 * may still say connected) and its broker is connected again.
 */
async function reconnected(node: Awaited<ReturnType<typeof startClusterNode>>): Promise<void> {
  await until(() => assert.match(node.output(), /lost the connection to Redis/, 'the node reported the loss of Redis'), {
    timeoutMs: 20_000,
  });
  await until(async () => assert.equal((await node.do<{ connected: boolean }>('stats')).connected, true), {
    timeoutMs: 20_000,
  });
}

/** How many publishes the node has reported as failed (`hub error`: its command connection not writable). */
function failedPublishes(node: Awaited<ReturnType<typeof startClusterNode>>): number {
  return node.output().split("Stream isn't writeable").length - 1;
}

/**
 * Publishes `data` after a fault, again while the node reports the publish failed, as the README
 * tells apps to: just after a reconnect its broker can say connected while the socket it replaces
 * is not closed yet.
 */
async function publishAfterFault(node: Awaited<ReturnType<typeof startClusterNode>>, room: string, data: string) {
  for (let attempt = 1; ; attempt++) {
    const failed = failedPublishes(node);
    await node.do('publish', { room, data });
    await delay(300);
    if (failedPublishes(node) === failed || attempt >= 5) return;
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

describe('continuity under Redis faults', () => {
  it('a reset of the nodes’ pub/sub connections loses nothing: the hole is filled from the stream, the lost tail too', async () => {
    const redis = await privateRedis();
    const [a, b] = [await node(redis), await node(redis)];
    const client = await follow(a.ws, 'news');
    await placed(client);
    await b.do('publish-many', { room: 'news', count: '10' });
    await until(() => assert.equal(client.messages().length, 10));

    // The tail: published while A's subscriber reconnects, and nothing after it.
    await redis.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await b.do('publish-many', { room: 'news', count: '20' });
    await until(() => assert.deepEqual(offsets(client.messages()), range(1, 30)), { timeoutMs: 20_000 });

    // A hole in the middle: more is published once A hears the room again.
    await redis.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await b.do('publish-many', { room: 'news', count: '20' });
    await delay(1_500);
    await b.do('publish-many', { room: 'news', count: '10' });
    await until(() => assert.deepEqual(offsets(client.messages()), range(1, 60)), { timeoutMs: 20_000 });
    assert.equal(client.frames.filter((frame) => frame.sb === 'gap').length, 0, 'nothing was lost from the stream: no gap');
    assert.equal(new Set(client.messages().map((frame) => frame.epoch)).size, 1);
  });

  it('a reset of the publishing node’s command connection: positioned frames only, in publish order, each once in the stream', async () => {
    const redis = await privateRedis();
    const a = await node(redis);
    const client = await follow(a.ws, 'orders');
    await placed(client);
    const sent = await a.do<number>('publish-reset', { room: 'orders', rounds: '3' });
    assert.equal(sent, 600);
    const stream = await redis.with((admin) => admin.xrange('faults:h:{orders}:stream', '-', '+'));
    const recorded = stream.map(([, fields]) => JSON.parse(fields[3] as string).data as string);
    assert.ok(recorded.length > 0 && recorded.length < 600, `some publishes were made while Redis was away: ${recorded.length}`);
    assert.equal(new Set(recorded).size, recorded.length, 'an append resent after the reset was recorded twice');
    const numbers = recorded.map(Number);
    assert.deepEqual(
      numbers,
      [...numbers].sort((x, y) => x - y),
      'the stream keeps the publisher’s order',
    );
    await until(() => assert.equal(client.messages().length, recorded.length), { timeoutMs: 20_000 });
    assert.deepEqual(
      client.frames.filter((frame) => frame.plain !== undefined),
      [],
      'an unrecorded publish reached a recovering connection without a position',
    );
    assert.deepEqual(offsets(client.messages()), range(1, recorded.length));
    assert.deepEqual(
      client.messages().map((frame) => frame.data),
      recorded,
    );
  });

  it('Redis restarted (history lost): a live message of the new epoch comes after a gap and a position', async () => {
    const redis = await privateRedis();
    const a = await node(redis);
    const client = await follow(a.ws, 'prices');
    await placed(client);
    await a.do('publish-many', { room: 'prices', count: '3' });
    await until(() => assert.equal(client.messages().length, 3));
    const before = client.frames.length;
    await redis.shutdown();
    await redis.startServer();
    await reconnected(a);
    await publishAfterFault(a, 'prices', 'after');
    await until(() =>
      assert.ok(client.messages().length >= 4, `the message after the restart: ${JSON.stringify(client.frames.slice(before))}`),
    );
    const since = client.frames.slice(before).filter((frame) => frame.room === 'prices');
    const first = since.findIndex((frame) => frame.sb === 'msg');
    assert.deepEqual(
      since.slice(0, first).map((frame) => frame.sb),
      ['gap', 'pos'],
      `a gap and the room's new position come before its first message: ${JSON.stringify(since)}`,
    );
    assert.equal(since[0]?.reason, 'epoch');
    assert.equal(since[1]?.epoch, since[first]?.epoch);
    assert.equal(since[first]?.offset, (since[1]?.offset as number) + 1);
  });

  it('a rejoin whose history read fails: a gap, then a position before any message', async () => {
    const redis = await privateRedis();
    const a = await node(redis);
    const first = await follow(a.ws, 'scores');
    await placed(first);
    await a.do('publish-many', { room: 'scores', count: '2' });
    await until(() => assert.equal(first.messages().length, 2));
    const last = first.messages()[1] as Frame;
    first.ws.terminate();
    await redis.shutdown();
    // Back while Redis is away: the replay cannot be read.
    const again = await follow(a.ws, 'scores', { scores: [last.offset as number, last.epoch as string] });
    await until(() =>
      assert.ok(
        again.frames.some((frame) => frame.sb === 'gap'),
        'a gap for the failed read',
      ),
    );
    await redis.startServer();
    await reconnected(a);
    await publishAfterFault(a, 'scores', 'after');
    await until(() => assert.ok(again.messages().length >= 1, 'the message after Redis is back'));
    const kinds = again.frames.filter((frame) => frame.room === 'scores').map((frame) => frame.sb);
    const gap = kinds.indexOf('gap');
    const message = kinds.indexOf('msg');
    assert.ok(kinds.slice(gap, message).includes('pos'), `a position follows the gap before a message: ${kinds.join(', ')}`);
    const position = again.frames.findLast(
      (frame, index) => frame.sb === 'pos' && index < again.frames.indexOf(again.messages()[0] as Frame),
    );
    const live = again.messages()[0] as Frame;
    assert.equal(position?.epoch, live.epoch, 'the position is in the epoch of the messages that follow it');
  });

  it('a failover to a replica that lacks the last writes: a new epoch and a gap, never an offset used twice', async () => {
    const [master, replica] = [await privateRedis(), await privateRedis()];
    // The replica follows the master through a proxy, so that the test can make it fall behind;
    // the node reaches Redis through another, moved to the replica at the failover (a Sentinel's
    // or a managed service's address that follows the master).
    const replication = new FaultProxy('replication');
    const address = new FaultProxy('redis');
    for (const proxy of [replication, address]) {
      await proxy.listen();
      stops.push(() => proxy.close());
    }
    replication.target = master.port;
    address.target = master.port;
    await replica.command(['REPLICAOF', '127.0.0.1', String(replication.port)]);
    const room = 'fo';
    const offsetOn = async (redis: FaultRedis) => Number(await redis.command(['HGET', `faults:h:{${room}}:pos`, 'o']));
    const a = await node({ url: `redis://127.0.0.1:${address.port}` });
    const client = await follow(a.ws, room);
    await placed(client);
    await a.do('publish-many', { room, count: '5' });
    await until(() => assert.equal(client.messages().length, 5));
    await until(async () => assert.equal(await offsetOn(replica), 5, 'the replica has the first five'));

    // The replica falls behind: two more messages reach the client, never the replica.
    replication.refuse(600_000);
    replication.cut('rst');
    await a.do('publish-many', { room, count: '2' });
    await until(() => assert.deepEqual(offsets(client.messages()), range(1, 7)));
    assert.equal(await offsetOn(replica), 5);

    // Failover: the master dies, the replica is promoted, the address moves to it.
    const before = client.frames.length;
    master.stop();
    await replica.command(['REPLICAOF', 'NO', 'ONE']);
    address.target = replica.port;
    address.cut('rst');
    await reconnected(a);
    await publishAfterFault(a, room, 'after');
    await until(() =>
      assert.ok(
        client.messages().some((frame) => frame.data === 'after'),
        `the message after the failover: ${JSON.stringify(client.frames.slice(before))}\nthe node said: ${a.output().slice(-3_000)}`,
      ),
    );
    const since = client.frames.slice(before).filter((frame) => frame.room === room);
    const kinds = since.map((frame) => frame.sb);
    assert.deepEqual(kinds, ['gap', 'pos', 'msg'], JSON.stringify(since));
    assert.equal(since[0]?.reason, 'epoch');
    const [, position, message] = since as [Frame, Frame, Frame];
    assert.notEqual(position.epoch, client.messages()[0]?.epoch, 'the promoted replica’s history has an epoch of its own');
    assert.equal(message.epoch, position.epoch);
    assert.equal(message.offset, (position.offset as number) + 1);
  });
});
