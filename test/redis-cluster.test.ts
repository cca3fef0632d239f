import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import { roomChannel } from '../src/cluster/room-channels.js';
import { DISCONNECTED_CLOSE_CODE } from '../src/index.js';
import { attempt, closed, closeServer, eventually, failure, LocalRedisCluster, open } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';
import { identityFromQuery, type LiveNode, member, startLiveNode, stopLiveNodes } from './live-routes.js';

describe('redisBroker options', () => {
  it('refuses unknown, conflicting and malformed options, naming them', () => {
    const unknown = failure(() => redisBroker({ url: 'redis://127.0.0.1:6379', clusters: [] } as never));
    assert.equal(unknown.code, 'ERR_INVALID_OPTION');
    assert.match(unknown.message, /unknown option "clusters"/);
    assert.match(failure(() => redisBroker({ host: 'x', port: 1 } as never)).message, /unknown options "host", "port"/);
    assert.match(
      failure(() => redisBroker({ url: 'redis://127.0.0.1:6379', cluster: [{ host: '127.0.0.1', port: 7000 }] })).message,
      /url and cluster were both given/,
    );
    assert.match(failure(() => redisBroker({ cluster: [] })).message, /cluster must be a non-empty list of nodes/);
    assert.match(failure(() => redisBroker({ cluster: [{ host: '127.0.0.1' }] } as never)).message, /cluster must be/);
    assert.match(failure(() => redisBroker({ url: 'localhost:6379' })).message, /url must be a redis:\/\//);
    assert.match(failure(() => redisBroker({ prefix: 'a{b}' })).message, /prefix must be a non-empty string without \{ or \}/);
    assert.match(failure(() => redisBroker({ client: {} as never })).message, /client must be an ioredis Redis or Cluster/);
    const client = new Redis({ lazyConnect: true });
    assert.match(failure(() => redisBroker({ client, url: 'redis://127.0.0.1:6379' })).message, /url and client were both given/);
    client.disconnect();
  });
});

describe('Redis Cluster: two hubs on a local cluster of three masters', { timeout: 90_000 }, () => {
  const cluster = new LocalRedisCluster(17101);
  const nodes: LiveNode[] = [];
  let a: LiveNode;
  let b: LiveNode;
  before(async () => {
    await cluster.start();
    for (let index = 0; index < 2; index++) {
      const options = {
        broker: redisBroker({ cluster: cluster.nodes.slice(index, index + 1), prefix: 'clustered' }),
        history: { size: 100, ttlMs: 60_000 },
      };
      nodes.push(
        await startLiveNode(options, (hub) => {
          hub.ws('/single', {}, { authenticate: identityFromQuery, perUser: { max: 1, onExceed: 'reject' } });
          hub.ws('/recover', {}, { recover: true }).on('connection', (ws) => hub.join(ws, 'prices'));
        }),
      );
    }
    [a, b] = nodes as [LiveNode, LiveNode];
  });
  after(async () => {
    await stopLiveNodes(nodes);
    cluster.stop();
  });

  it('delivers room publishes, user and tenant emits across nodes, ws and Socket.IO (sharded adapter)', async () => {
    const onB = await member(`${b.url}/live?user=ann&tenant=acme`, ['news', 'sports']);
    const io = await connectIo(b.http, { transports: ['websocket'], query: { user: 'ann', tenant: 'acme' } });
    // Rooms whose streams live on different shards. Order is kept per room (its stream's), not
    // across rooms: each room's append is answered by its own shard.
    a.hub.publish('news', 'n1');
    a.hub.publish('sports', 's1');
    a.hub.publish('news', 'n2');
    await eventually(() => onB.seen.length === 3, 5_000, 'the publishes on node B');
    assert.deepEqual(
      onB.seen.filter((data) => data.startsWith('n')),
      ['n1', 'n2'],
    );
    assert.deepEqual([...onB.seen].sort(), ['n1', 'n2', 's1']);
    onB.seen.length = 0;
    const ioNote = nextEvent(io, 'note');
    a.hub.toUser('ann').emit('note', 'hello ann');
    assert.equal(await ioNote, 'hello ann');
    await eventually(() => onB.seen.includes(JSON.stringify({ event: 'note', data: 'hello ann' })));
    a.hub.toTenant('acme').emit('note', 'hello acme');
    await eventually(() => onB.seen.includes(JSON.stringify({ event: 'note', data: 'hello acme' })));
    const stats = a.hub.realtime.link.stats();
    assert.equal(stats.connected, true);
    assert.equal(stats.dropped, 0);
    io.close();
    onB.ws.close();
  });

  it('disconnects a user on every node, and holds the per-user limit across them', async () => {
    const held = await open(`${a.url}/single?user=cat`);
    assert.equal((await attempt(`${b.url}/single?user=cat`)).status, 429, 'the limit, counted in the cluster');
    const gone = closed(held);
    b.hub.disconnectUser('cat');
    assert.equal((await gone).code, DISCONNECTED_CLOSE_CODE);
    await eventually(async () => (await attempt(`${b.url}/single?user=cat`)).status === 101, 5_000, 'room again once cat left');
  });

  it('keeps presence across nodes', async () => {
    const first = await member(`${a.url}/live?user=dan&tenant=t`, ['lobby']);
    const second = await member(`${b.url}/live?user=dan&tenant=t`, ['lobby']);
    const third = await member(`${b.url}/live?user=eve&tenant=t`, ['lobby']);
    await eventually(async () => (await a.hub.presenceCount('lobby')) === 2);
    assert.deepEqual(
      (await a.hub.presence('lobby')).sort((x, y) => x.userId.localeCompare(y.userId)),
      [
        { userId: 'dan', tenantId: 't', connections: 2 },
        { userId: 'eve', tenantId: 't', connections: 1 },
      ],
    );
    for (const { ws } of [first, second, third]) ws.close();
    await eventually(async () => (await b.hub.presenceCount('lobby')) === 0);
  });

  it('recovers on the other node what was published while away, from history on the cluster', async () => {
    const frames: Array<Record<string, unknown>> = [];
    const first = new WebSocket(`${a.url}/recover`);
    first.on('message', (data) => frames.push(JSON.parse(String(data))));
    await eventually(() => frames.some((frame) => frame.sb === 'pos'));
    b.hub.publish('prices', 'p1');
    await eventually(() => frames.some((frame) => frame.sb === 'msg' && frame.data === 'p1'));
    const last = frames.filter((frame) => frame.sb === 'msg').at(-1) as { offset: number; epoch: string };
    first.terminate();
    a.hub.publish('prices', 'p2');
    b.hub.publish('prices', 'p3');
    const resume = Buffer.from(JSON.stringify({ prices: [last.offset, last.epoch] })).toString('base64url');
    const replayed: string[] = [];
    const second = new WebSocket(`${b.url}/recover?sb_resume=${resume}`);
    second.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.sb === 'msg') replayed.push(frame.data);
    });
    await eventually(() => replayed.length === 2, 5_000, 'the two missed prices');
    assert.deepEqual(replayed, ['p2', 'p3']);
    second.terminate();
  });

  it('takes an ioredis Cluster as client', async () => {
    const client = new Cluster(cluster.nodes, { lazyConnect: true });
    const third = await startLiveNode({ broker: redisBroker({ client, prefix: 'clustered' }) });
    const listener = await member(`${third.url}/live?user=fay`, ['news']);
    a.hub.publish('news', 'to the third node');
    await eventually(() => listener.seen.includes('to the third node'));
    listener.ws.close();
    await third.hub.close({ timeoutMs: 100 });
    await closeServer(third.server);
    client.disconnect();
  });
});

describe("Redis Cluster failover: the master of the bus channel and of a room's channel stopped, its replica promoted", {
  timeout: 120_000,
}, () => {
  const cluster = new LocalRedisCluster(17201, 1);
  const nodes: LiveNode[] = [];
  before(async () => {
    await cluster.start();
    for (let index = 0; index < 2; index++) {
      const options = { broker: redisBroker({ cluster: cluster.nodes.slice(0, 3), prefix: 'failover' }) };
      nodes.push(await startLiveNode(options, (hub) => hub.on('error', () => {})));
    }
  });
  after(async () => {
    await stopLiveNodes(nodes);
    cluster.stop();
  });

  it('resumes delivery once each message once, and reports the broker down and back', async () => {
    const [a, b] = nodes as [LiveNode, LiveNode];
    const changes: boolean[] = [];
    a.hub.realtime.observers.add({ brokerChanged: (up) => changes.push(up) });
    // A room whose channel (and presence) is on the bus channel's master: the kill stops both.
    const busMaster = await cluster.masterOf('failover:bus');
    let room = '';
    for (let index = 0; room === ''; index++) {
      if ((await cluster.masterOf(roomChannel('failover', `news-${index}`))) === busMaster) room = `news-${index}`;
    }
    const listener = await member(`${b.url}/live?user=gil`, [room]);
    a.hub.publish(room, 'before');
    await eventually(() => listener.seen.includes('before'));

    await cluster.kill(busMaster);
    // Until the replica takes over (cluster-node-timeout 2 s, then an election), publishes are dropped.
    let sent = 0;
    await eventually(
      () => {
        a.hub.publish(room, `during ${++sent}`);
        return listener.seen.some((data) => data.startsWith('during'));
      },
      60_000,
      'delivery through the promoted replica',
    );
    const last = `after ${sent}`;
    a.hub.publish(room, last);
    await eventually(() => listener.seen.includes(last));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Nothing half-subscribed: each message that arrived arrived once.
    assert.equal(new Set(listener.seen).size, listener.seen.length, `duplicates in ${listener.seen}`);
    assert.ok(a.hub.realtime.link.stats().dropped > 0, 'what could not be sent was counted');
    assert.deepEqual(changes.slice(-2), [false, true], 'the broker reported down, then up');
    assert.equal(a.hub.realtime.brokerIsUp, true);
    // The per-user policy's and presence's scripts run on the new master too.
    await eventually(async () => (await b.hub.presenceCount(room).catch(() => -1)) === 1, 10_000, 'presence on the new master');
    listener.ws.close();
  });
});

describe('Redis Cluster: hubs started while a shard fails over', { timeout: 120_000 }, () => {
  const cluster = new LocalRedisCluster(17211, 1);
  const nodes: LiveNode[] = [];
  before(() => cluster.start());
  after(async () => {
    await stopLiveNodes(nodes);
    cluster.stop();
  });

  it('every hub becomes ready once the replica takes over, and the bus carries messages between them', async () => {
    const master = (await cluster.topology()).find((node) => node.master && node.slots)?.port;
    assert.ok(master !== undefined);
    cluster.kill(master);
    // Hubs started over the seconds the shard is unserved and being taken over: a Cluster client's
    // first ready check can fail then, and its connect() promise is never settled.
    const starting: Array<Promise<LiveNode>> = [];
    for (let index = 0; index < 8; index++) {
      starting.push(startLiveNode({ broker: redisBroker({ cluster: cluster.nodes, prefix: 'starting' }) }));
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    const settled = await Promise.race([
      Promise.allSettled(starting),
      new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 45_000).unref()),
    ]);
    assert.notEqual(settled, 'pending', 'a hub.ready() was still pending 45 s after the failover began');
    for (const result of settled as Array<PromiseSettledResult<LiveNode>>) {
      if (result.status === 'fulfilled') nodes.push(result.value);
    }
    const failed = (settled as Array<PromiseSettledResult<LiveNode>>).filter((result) => result.status === 'rejected');
    assert.deepEqual(
      failed.map((result) => String((result as PromiseRejectedResult).reason)),
      [],
      'every hub started',
    );
    const first = nodes[0] as LiveNode;
    const last = nodes.at(-1) as LiveNode;
    const listener = await member(`${last.url}/live?user=ida`, ['lobby']);
    await eventually(() => {
      first.hub.publish('lobby', 'across');
      return listener.seen.includes('across');
    });
    listener.ws.close();
    // The sharded Socket.IO adapter of every node subscribed, though some of its SSUBSCRIBEs were
    // refused while the shard had no subscriber: a broadcast from the first reaches a socket on each.
    const sockets = await Promise.all(
      nodes.map((node) => connectIo(node.http, { transports: ['websocket'], query: { user: 'ida' } })),
    );
    const heard = sockets.map(() => false);
    for (const [index, socket] of sockets.entries()) {
      socket.on('hello', () => {
        heard[index] = true;
      });
    }
    await eventually(
      () => {
        first.hub.io().emit('hello');
        return heard.every(Boolean);
      },
      10_000,
      'a Socket.IO broadcast on every node',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; heard on the nodes: ${heard.join(', ')}`);
    });
    for (const socket of sockets) socket.close();
  });
});
