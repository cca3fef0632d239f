import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { Server } from 'socket.io';
import { WebSocket } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import { switchboard } from '../src/index.js';
import { startClusterNode } from './cluster-node.js';
import { type Frame, RecoveringClient } from './continuity-helpers.js';
import { closed, closeServer, delay, eventually, listen } from './helpers.js';
import { connectIo } from './io-helpers.js';

describe('continuity on Redis: room streams shared by every node', () => {
  const REDIS = 'redis://127.0.0.1:6379';
  const hubs: { stop: () => Promise<void> }[] = [];
  after(async () => {
    for (const hub of hubs) await hub.stop();
  });

  /** A hub with its own Redis connections, as another process would have, on a prefix of the test's. */
  async function redisHub(prefix: string, history = { size: 100, ttlMs: 60_000 }) {
    const server = http.createServer();
    const hub = switchboard(server, { broker: redisBroker({ url: REDIS, prefix }), history });
    hub
      .ws('/live', {}, { recover: true, authenticate: () => ({ userId: 'ann' }) })
      .on('connection', (ws) => hub.join(ws, 'news'));
    await hub.ready();
    const { url } = await listen(server);
    const stop = async () => {
      await hub.close({ timeoutMs: 200 });
      await closeServer(server);
    };
    hubs.push({ stop });
    return { hub, url: `${url}/live`, stop };
  }

  it('published on A while the client was away, recovered on B, in order, once; user emits too', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const a = await redisHub(prefix);
    const b = await redisHub(prefix);
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 2, 5_000, 'positions of news and user:ann');
    a.hub.publish('news', 'on A');
    b.hub.publish('news', 'on B, heard through A');
    await eventually(() => client.heard('news').length === 2);
    client.ws?.terminate();
    for (let n = 1; n <= 20; n++) a.hub.publish('news', `away ${n}`);
    a.hub.toUser('ann').emit('invoice', { id: 7 });
    await delay(100);
    await client.connect(b.url);
    b.hub.publish('news', 'live on B');
    await eventually(() => client.heard('news').length === 23);
    assert.deepEqual(client.heard('news'), [
      'on A',
      'on B, heard through A',
      ...Array.from({ length: 20 }, (_, index) => `away ${index + 1}`),
      'live on B',
    ]);
    await eventually(() => client.heard('user:ann').length === 1);
    assert.deepEqual(client.heard('user:ann'), [{ event: 'invoice', data: { id: 7 } }]);
    assert.equal(client.of('gap').length, 0);
    client.ws?.close();
  });

  it('live messages published while the replay is read are held and merged, never overtaking or repeating', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const a = await redisHub(prefix, { size: 5_000, ttlMs: 60_000 });
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 2);
    client.ws?.terminate();
    for (let n = 1; n <= 500; n++) a.hub.publish('news', String(n));
    await delay(100);
    const connecting = client.connect();
    // Published while the reconnect and its read are under way.
    let next = 501;
    const during = setInterval(() => {
      if (next <= 700) a.hub.publish('news', String(next++));
    }, 1);
    await connecting;
    await eventually(() => next > 700);
    clearInterval(during);
    await eventually(() => client.heard('news').length >= 700);
    await delay(100);
    assert.deepEqual(
      client.heard('news'),
      Array.from({ length: 700 }, (_, index) => String(index + 1)),
    );
    client.ws?.close();
  });

  it('a message still on its way to Redis when the replay is read is held, then sent once, after the replay', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const server = http.createServer();
    const hub = switchboard(server, { broker: redisBroker({ url: REDIS, prefix }), history: { size: 100, ttlMs: 60_000 } });
    // Published just before the join: its append is in flight when the join's read goes out, so
    // the read includes it and its live delivery comes while the read is pending.
    hub.ws('/live', {}, { recover: true }).on('connection', (ws) => {
      hub.publish('news', 'racing the replay');
      hub.join(ws, 'news');
    });
    await hub.ready();
    const { url } = await listen(server);
    hubs.push({ stop: () => hub.close({ timeoutMs: 200 }).then(() => closeServer(server)) });
    const client = new RecoveringClient(`${url}/live`);
    await client.connect();
    await eventually(() => client.heard('news').length === 1);
    client.ws?.terminate();
    hub.publish('news', 'while away');
    await delay(50);
    await client.connect();
    await eventually(() => client.heard('news').length >= 3);
    await delay(100);
    assert.deepEqual(client.heard('news'), ['racing the replay', 'while away', 'racing the replay']);
    const second = client.frames.slice(client.frames.findLastIndex((frame) => frame.sb === 'hello'));
    assert.deepEqual(
      second.map((frame) => frame.sb),
      ['hello', 'msg', 'msg', 'pos'],
      'the replay holds both, in order, then the position; nothing twice',
    );
    client.ws?.close();
  });

  it('a gap older than the history replays nothing and says so', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const a = await redisHub(prefix, { size: 3, ttlMs: 60_000 });
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 2);
    client.ws?.terminate();
    for (let n = 1; n <= 5; n++) a.hub.publish('news', String(n));
    await delay(100);
    await client.connect();
    await eventually(() => client.of('gap').length === 1);
    assert.equal(client.of('gap')[0]?.reason, 'expired');
    assert.deepEqual(client.heard('news'), []);
    client.ws?.close();
  });

  it('a request resent to another node after a drop runs its handler once in the cluster, and the answer arrives', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    let runs = 0;
    let release: (() => void) | undefined;
    const node = async () => {
      const server = http.createServer();
      const hub = switchboard(server, { broker: redisBroker({ url: REDIS, prefix }), history: { size: 10, ttlMs: 60_000 } });
      hub.ws('/live', {}, { recover: true, authenticate: () => ({ userId: 'ann' }) }).on('connection', (ws) => {
        hub.onRequest(ws, 'pay', async () => {
          runs++;
          await new Promise<void>((resolve) => (release = resolve));
          return { paid: true };
        });
      });
      await hub.ready();
      const { url } = await listen(server);
      hubs.push({ stop: () => hub.close({ timeoutMs: 200 }).then(() => closeServer(server)) });
      return `${url}/live`;
    };
    const [a, b] = [await node(), await node()];
    const request = JSON.stringify({ sb: 'req', id: 'pay-1', event: 'pay', data: {} });
    const first = new WebSocket(a);
    await new Promise((resolve) => first.once('open', resolve));
    first.send(request);
    await eventually(() => release !== undefined);
    first.terminate();
    const second = new WebSocket(b);
    const answers: Frame[] = [];
    second.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.sb === 'res') answers.push(frame);
    });
    await new Promise((resolve) => second.once('open', resolve));
    second.send(request);
    await delay(150);
    assert.equal(runs, 1, 'B waits for the run on A instead of running it again');
    release?.();
    await eventually(() => answers.length === 1);
    assert.deepEqual(answers[0], { sb: 'res', id: 'pay-1', data: { paid: true } });
    assert.equal(runs, 1);
    second.close();
  });

  it('a node killed with SIGKILL: its client recovers on the other node what was published meanwhile', async () => {
    const env = { REDIS_URL: REDIS, PREFIX: `sb-test-${Math.random().toString(36).slice(2)}`, HISTORY: '1' };
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    hubs.push(a, b);
    const client = new RecoveringClient(`${a.ws}/recover?room=orders`);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    await a.do('publish', { room: 'orders', data: 'before' });
    await eventually(() => client.heard('orders').length === 1);
    await a.stop();
    await closed(client.ws as WebSocket);
    await b.do('publish', { room: 'orders', data: 'while A was dead' });
    await client.connect(`${b.ws}/recover?room=orders`);
    await eventually(() => client.heard('orders').length === 2);
    assert.deepEqual(client.heard('orders'), ['before', 'while A was dead']);
    client.ws?.close();
  });
});

describe("Socket.IO's own recovery across nodes (the Redis Streams adapter)", () => {
  it('a session dropped on A is restored on B, with the user emit published meanwhile', async (t) => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const node = async () => {
      const server = http.createServer();
      const hub = switchboard(server, { broker: redisBroker({ url: 'redis://127.0.0.1:6379', prefix }) });
      const io = hub.socketio(new Server({ path: '/socket.io', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } }), {
        authenticate: () => ({ userId: 'ann' }),
      });
      await hub.ready();
      const { port } = await listen(server);
      t.after(async () => {
        await hub.close({ timeoutMs: 200 });
        await closeServer(server);
      });
      return { hub, io, port };
    };
    const a = await node();
    const b = await node();
    const client = await connectIo(`http://127.0.0.1:${a.port}`, { transports: ['websocket'] });
    t.after(() => client.close());
    const heard: unknown[] = [];
    client.on('invoice', (data: unknown) => heard.push(data));
    a.hub.toUser('ann').emit('invoice', 1);
    await eventually(() => heard.length === 1);
    // The client goes to B (a load balancer moved it) after a transport drop; A emits meanwhile.
    const manager = (client as unknown as { io: { uri: string; opts: { reconnection: boolean } } }).io;
    for (const socket of a.io.sockets.sockets.values()) socket.conn.close();
    await eventually(() => !client.connected);
    a.hub.toUser('ann').emit('invoice', 2);
    await delay(100);
    manager.uri = `http://127.0.0.1:${b.port}`;
    client.connect();
    await eventually(() => client.connected && heard.length === 2, 5_000, 'restored on B with the missed emit');
    assert.equal(client.recovered, true);
    assert.deepEqual(heard, [1, 2]);
  });
});
