import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import { LINGER_MS, roomChannel } from '../src/cluster/room-channels.js';
import type { Switchboard } from '../src/index.js';
import { startClusterNode } from './cluster-node.js';
import { delay, eventually, LocalRedisCluster, open, PrivateRedis } from './helpers.js';
import { type LiveNode, member, startLiveNode, stopLiveNodes } from './live-routes.js';

const REDIS = 'redis://127.0.0.1:6379';

/** Messages this node's broker link has taken from Redis. */
const received = (node: LiveNode) => node.hub.realtime.link.stats().received;

/** A recovering route whose connections join the room their query names, with `sb_resume` honoured. */
function recoverRoute(hub: Switchboard): void {
  hub.ws('/recover', {}, { recover: true }).on('connection', (ws, req) => {
    hub.join(ws, new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? 'news');
  });
}

/** The positioned frames of one room a recovering client got: where it started, and each message's offset. */
function positions(ws: WebSocket) {
  const seen = { start: Number.NaN, offsets: [] as number[], gaps: 0 };
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.sb === 'pos') seen.start = frame.offset;
    else if (frame.sb === 'msg') seen.offsets.push(frame.offset);
    else if (frame.sb === 'gap') seen.gaps++;
  });
  return seen;
}

/** Every offset after the start, once each, in order. */
function contiguous(seen: ReturnType<typeof positions>, count: number): void {
  assert.equal(seen.gaps, 0);
  assert.ok(Number.isInteger(seen.start), 'a position frame came');
  const expected = Array.from({ length: count }, (_, index) => seen.start + 1 + index);
  assert.deepEqual(seen.offsets.slice(0, count), expected);
}

/** 100 rooms joined at once on `a`; as soon as each join resolves, `b` publishes to the room: every message arrives. */
async function joinThenPublish(a: LiveNode, b: LiveNode): Promise<void> {
  const rooms = Array.from({ length: 100 }, (_, index) => `fresh-${randomUUID()}-${index}`);
  const path = `/join-then-publish-${randomUUID()}`;
  a.hub.ws(path).on('connection', (ws) => {
    for (const room of rooms) a.hub.join(ws, room).then(() => b.hub.publish(room, `to ${room}`));
  });
  const ws = await open(`${a.url}${path}`);
  const seen: string[] = [];
  ws.on('message', (data) => seen.push(String(data)));
  await eventually(() => seen.length === rooms.length, 5_000, 'every room’s first message');
  assert.deepEqual(new Set(seen), new Set(rooms.map((room) => `to ${room}`)));
  ws.close();
}

describe('routing by room on one Redis', () => {
  const prefix = `test-routing-${randomUUID()}`;
  const nodes: LiveNode[] = [];
  let admin: Redis;
  const subscribers = async (room: string) =>
    Number(((await admin.pubsub('NUMSUB', roomChannel(prefix, room))) as [string, number])[1]);
  before(async () => {
    admin = new Redis(REDIS);
    for (let index = 0; index < 3; index++) {
      nodes.push(await startLiveNode({ broker: redisBroker({ url: REDIS, prefix }), presence: false }));
    }
  });
  after(async () => {
    await stopLiveNodes(nodes);
    admin.disconnect();
  });

  it("sends a room's messages to the nodes with members in it, and to no other", async () => {
    const [a, b, c] = nodes as [LiveNode, LiveNode, LiveNode];
    const onA = await member(`${a.url}/live?user=ann`, ['only-a']);
    assert.equal(await subscribers('only-a'), 1);
    const [bBefore, cBefore] = [received(b), received(c)];
    for (let index = 0; index < 50; index++) b.hub.publish('only-a', `m${index}`);
    await eventually(() => onA.seen.length === 50);
    await delay(200);
    assert.equal(received(c) - cBefore, 0, 'the node without a member got nothing');
    assert.equal(received(b) - bBefore, 0, 'nor did the publishing node, which has no member either');
    assert.deepEqual(
      onA.seen,
      Array.from({ length: 50 }, (_, index) => `m${index}`),
    );
    assert.ok((a.hub.realtime.link.stats().rooms ?? 0) >= 1);
    onA.ws.close();
  });

  it('resolves a join once the room reaches the node: a message sent right after it arrives', () =>
    joinThenPublish(nodes[0] as LiveNode, nodes[1] as LiveNode));

  it("delivers a user's messages from the connection's first moment, on another node", async () => {
    const [a, b] = nodes as [LiveNode, LiveNode];
    const users = Array.from({ length: 30 }, (_, index) => `first-${randomUUID()}-${index}`);
    const got = new Set<string>();
    const clients = users.map((user) => {
      const ws = new WebSocket(`${a.url}/live?user=${user}`);
      ws.on('open', () => b.hub.toUser(user).emit('note', user));
      ws.on('message', (data) => got.add(JSON.parse(String(data)).data));
      return ws;
    });
    await eventually(() => got.size === users.length, 5_000, 'a note for every user');
    for (const ws of clients) ws.close();
  });

  it('lets a room go a while after its last member left, and follows it again on a new join', async () => {
    const [a, b] = nodes as [LiveNode, LiveNode];
    const room = `brief-${randomUUID()}`;
    const first = await member(`${a.url}/live?user=brief`, [room]);
    first.ws.close();
    await delay(100);
    assert.equal(await subscribers(room), 1, 'kept through the linger');
    await eventually(async () => (await subscribers(room)) === 0, LINGER_MS * 2 + 2_000, 'the channel let go');
    const second = await member(`${a.url}/live?user=brief`, [room]);
    b.hub.publish(room, 'again');
    await eventually(() => second.seen.includes('again'));
    second.ws.close();
  });

  it('replays nothing twice and misses nothing for a recovering connection joining while another node publishes', async () => {
    const history = { size: 10_000, ttlMs: 60_000 };
    const historyPrefix = `${prefix}-history`;
    const [a, b] = [
      await startLiveNode({ broker: redisBroker({ url: REDIS, prefix: historyPrefix }), history }, recoverRoute),
      await startLiveNode({ broker: redisBroker({ url: REDIS, prefix: historyPrefix }), history }),
    ];
    nodes.push(a, b);
    const room = `busy-${randomUUID()}`;
    let sent = 0;
    const publisher = setInterval(() => {
      for (let index = 0; index < 5; index++, sent++) b.hub.publish(room, `n${sent}`);
    }, 1);
    const clients: Array<{ ws: WebSocket; seen: ReturnType<typeof positions> }> = [];
    for (let index = 0; index < 10; index++) {
      const ws = new WebSocket(`${a.url}/recover?room=${room}`);
      clients.push({ ws, seen: positions(ws) });
      await delay(15);
    }
    await delay(100);
    clearInterval(publisher);
    await eventually(
      () => clients.every(({ seen }) => Number.isInteger(seen.start) && seen.start + seen.offsets.length === sent),
      5_000,
      'every client up to the last message',
    );
    for (const { ws, seen } of clients) {
      contiguous(seen, seen.offsets.length);
      ws.close();
    }
  });
});

describe('routing by room after a Redis restart', () => {
  it('follows its rooms again, including those joined while Redis was away', async () => {
    const redis = new PrivateRedis(16395);
    await redis.answering();
    const prefix = `test-restart-${randomUUID()}`;
    const [a, b] = [
      await startLiveNode({ broker: redisBroker({ url: redis.url, prefix }), presence: false }, (hub) =>
        hub.on('error', () => {}),
      ),
      await startLiveNode({ broker: redisBroker({ url: redis.url, prefix }), presence: false }, (hub) =>
        hub.on('error', () => {}),
      ),
    ];
    try {
      const before = await member(`${a.url}/live?user=r`, ['before']);
      redis.kill();
      await eventually(() => !a.hub.realtime.brokerIsUp);
      before.ws.send('join:during');
      await eventually(() => before.seen.includes('ok join:during'));
      redis.restart();
      await redis.answering();
      await eventually(() => a.hub.realtime.brokerIsUp && b.hub.realtime.brokerIsUp, 10_000, 'both nodes back');
      // Subscriptions come back a little after the connection: published until both rooms arrive.
      await eventually(
        () => {
          b.hub.publish('before', 'b');
          b.hub.publish('during', 'd');
          return before.seen.includes('b') && before.seen.includes('d');
        },
        10_000,
        'both rooms delivered again',
      );
      before.ws.close();
    } finally {
      await stopLiveNodes([a, b]);
      redis.kill();
    }
  });
});

describe('routing by room on a Redis Cluster', () => {
  const cluster = new LocalRedisCluster(17301);
  const prefix = 'routed';
  const nodes: LiveNode[] = [];
  let client: Cluster;
  const history = { size: 10_000, ttlMs: 60_000 };
  before(async () => {
    await cluster.start();
    client = new Cluster(cluster.nodes);
    for (let index = 0; index < 3; index++) {
      nodes.push(
        await startLiveNode({ broker: redisBroker({ cluster: cluster.nodes, prefix }), presence: false, history }, recoverRoute),
      );
    }
  });
  after(async () => {
    await stopLiveNodes(nodes);
    client.disconnect();
    cluster.stop();
  });

  it("sends a room's messages only to the nodes with members in it, through the room's shard", async () => {
    const [a, b, c] = nodes as [LiveNode, LiveNode, LiveNode];
    const rooms = ['alpha', 'beta', 'gamma', 'delta'];
    const onA = await member(`${a.url}/live?user=ann`, rooms);
    const [bBefore, cBefore] = [received(b), received(c)];
    for (const room of rooms) b.hub.publish(room, room);
    await eventually(() => onA.seen.length === rooms.length);
    await delay(200);
    assert.equal(received(c) - cBefore, 0);
    assert.equal(received(b) - bBefore, 0);
    // Each room's channel is subscribed on the master of its own slot: rooms spread over the shards.
    const masters = new Set<number>();
    for (const room of rooms) {
      const master = await cluster.masterOf(roomChannel(prefix, room));
      masters.add(master);
      const node = new Redis(master, '127.0.0.1');
      const [, count] = (await node.call('PUBSUB', 'SHARDNUMSUB', roomChannel(prefix, room))) as [string, number];
      node.disconnect();
      assert.equal(count, 1, `${room} subscribed once, on its master`);
    }
    assert.ok(masters.size > 1, 'the rooms are on more than one shard');
    onA.ws.close();
  });

  it('resolves a join once the room reaches the node, through its shard', () =>
    joinThenPublish(nodes[0] as LiveNode, nodes[1] as LiveNode));

  it("keeps a room's order with history when two nodes publish to it at once", async () => {
    const [a, b, c] = nodes as [LiveNode, LiveNode, LiveNode];
    const room = `raced-${randomUUID()}`;
    const ws = new WebSocket(`${c.url}/recover?room=${room}`);
    const seen = positions(ws);
    await eventually(() => Number.isInteger(seen.start));
    for (let index = 0; index < 300; index++) {
      a.hub.publish(room, `a${index}`);
      b.hub.publish(room, `b${index}`);
    }
    await eventually(() => seen.offsets.length === 600, 10_000, 'all 600 messages');
    contiguous(seen, 600);
    ws.close();
  });
});

describe('a hub closing while its Redis Cluster is gone', () => {
  it('resolves close() and lets the process exit by itself', { timeout: 60_000 }, async () => {
    const cluster = new LocalRedisCluster(17311);
    await cluster.start();
    const node = await startClusterNode({
      REDIS_CLUSTER: cluster.ports.map((port) => `127.0.0.1:${port}`).join(','),
      PREFIX: `gone-${randomUUID()}`,
    });
    try {
      // Rooms on every shard, a user, presence: subscriptions and keys wherever the cluster has them.
      const onNode = await member(`${node.ws}/live?user=leaving&tenant=t`, ['alpha', 'beta', 'gamma', 'delta']);
      cluster.stop();
      await delay(300);
      await node.do('close');
      await eventually(() => node.output().includes('CLOSED'), 20_000, 'hub.close() resolved');
      // Nothing of the broker's keeps it alive: no reconnecting client, no retry timer.
      assert.equal(await node.exited, 0, node.output());
      onNode.ws.terminate();
    } finally {
      await node.stop();
      cluster.stop();
    }
  });
});
