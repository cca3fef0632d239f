import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { DISCONNECTED_CLOSE_CODE, memoryBroker, SLOW_CLOSE_CODE, switchboard } from '../src/index.js';
import { closed, closeServer, delay, eventually, listen, nextMessage, open } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';
import { mountLive } from './live-routes.js';

/** Collects every message of a socket opened by `open()`. */
function inbox(ws: WebSocket): string[] {
  const seen: string[] = [];
  ws.on('message', (data) => seen.push(String(data)));
  return seen;
}

describe('rooms for ws routes', () => {
  const server = http.createServer();
  const hub = switchboard(server);
  mountLive(hub);
  let url = '';
  let base = '';
  before(async () => {
    const address = await listen(server);
    url = `${address.url}/live`;
    base = `http://127.0.0.1:${address.port}`;
  });
  after(() => closeServer(server));

  async function client(query: string, rooms: string[] = []) {
    const ws = await open(`${url}?${query}`);
    for (const room of rooms) {
      ws.send(`join:${room}`);
      assert.equal(await nextMessage(ws), `ok join:${room}`);
    }
    return { ws, seen: inbox(ws) };
  }

  it('publishes to exactly the connections in a room, text, binary and JSON alike', async () => {
    const a = await client('user=a', ['news']);
    const b = await client('user=b', ['news', 'sport']);
    const c = await client('user=c', ['sport']);
    assert.deepEqual(hub.publish('news', 'headline'), { sent: 2, skipped: 0, closed: 0 });
    hub.publish('sport', { score: [2, 1] });
    hub.publish('news', Buffer.from([1, 2, 3]));
    await eventually(() => a.seen.length === 2 && b.seen.length === 3 && c.seen.length === 1);
    assert.deepEqual(a.seen, ['headline', '\u0001\u0002\u0003']);
    assert.deepEqual(b.seen, ['headline', '{"score":[2,1]}', '\u0001\u0002\u0003']);
    assert.deepEqual(c.seen, ['{"score":[2,1]}']);
    for (const each of [a, b, c]) each.ws.close();
  });

  it('frames a broadcast once: no per-recipient ws.send while senders are idle', async (t) => {
    const frameServer = http.createServer();
    const frameHub = switchboard(frameServer);
    let perRecipientSends = 0;
    frameHub.ws('/framed').on('connection', (ws) => {
      const send = ws.send.bind(ws);
      (ws as unknown as { send: typeof ws.send }).send = ((...args: Parameters<typeof ws.send>) => {
        perRecipientSends++;
        return send(...args);
      }) as typeof ws.send;
      frameHub.join(ws, 'framed');
    });
    const address = await listen(frameServer);
    t.after(() => closeServer(frameServer));
    const clients = await Promise.all(Array.from({ length: 4 }, () => open(`${address.url}/framed`)));
    const seen = clients.map(inbox);
    await eventually(() => frameHub.realtime.rooms.in('framed').size === 4);
    frameHub.publish('framed', 'é'.repeat(300));
    await eventually(() => seen.every((each) => each.length === 1));
    assert.ok(seen.every((each) => each[0] === 'é'.repeat(300)));
    assert.equal(perRecipientSends, 0);
    for (const ws of clients) ws.close();
  });

  it('delivers nothing after a connection left the room, and forgets it on close', async () => {
    const a = await client('user=a', ['news', 'sport']);
    a.ws.send('leave:news');
    await eventually(() => a.seen.includes('ok leave:news'));
    hub.publish('news', 'after leave');
    hub.publish('sport', 'still here');
    await eventually(() => a.seen.includes('still here'));
    assert.ok(!a.seen.includes('after leave'));
    a.ws.close();
    await closed(a.ws);
    await eventually(() => hub.realtime.rooms.in('sport').size === 0);
    assert.deepEqual(hub.realtime.rooms.sizes(), {}, 'no room keeps a closed connection');
  });

  it("keeps the order of a publisher's messages on every connection", async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, (_, index) => client(`user=o${index}`, ['ordered'])));
    for (let index = 0; index < 200; index++) hub.publish('ordered', String(index));
    const expected = Array.from({ length: 200 }, (_, index) => String(index));
    await eventually(() => clients.every((each) => each.seen.length === 200));
    for (const each of clients) assert.deepEqual(each.seen, expected);
    for (const each of clients) each.ws.close();
  });

  it('reaches users and tenants on ws (a { event, data } frame) and on Socket.IO alike', async () => {
    const annWs = await client('user=ann&tenant=acme');
    const bobWs = await client('user=bob&tenant=acme');
    const eveWs = await client('user=eve&tenant=globex');
    const annIo = await connectIo(base, { query: { user: 'ann', tenant: 'acme' }, transports: ['websocket'] });
    hub.toUser('ann').emit('note', { text: 'for ann' });
    hub.toTenant('acme').emit('note', 'for acme', 2);
    await eventually(() => annWs.seen.length === 2 && bobWs.seen.length === 1);
    assert.deepEqual(
      annWs.seen.map((frame) => JSON.parse(frame)),
      [
        { event: 'note', data: { text: 'for ann' } },
        { event: 'note', data: ['for acme', 2] },
      ],
    );
    assert.deepEqual(JSON.parse(bobWs.seen[0] ?? ''), { event: 'note', data: ['for acme', 2] });
    assert.deepEqual(await nextEvent(annIo, 'note'), { text: 'for ann' });
    await delay(30);
    assert.deepEqual(eveWs.seen, []);
    hub.toUser('ann', { namespace: '/' }).emit('only-io', 1);
    assert.equal(await nextEvent(annIo, 'only-io'), 1);
    await delay(30);
    assert.equal(annWs.seen.length, 2, 'a namespace option leaves ws connections out');
    for (const each of [annWs, bobWs, eveWs]) each.ws.close();
    annIo.close();
  });

  it("disconnectUser closes the user's ws connections with 4003 and her Socket.IO sockets", async () => {
    const annWs = await client('user=ann&tenant=acme');
    const bobWs = await client('user=bob&tenant=acme');
    const annIo = await connectIo(base, { query: { user: 'ann', tenant: 'acme' }, transports: ['websocket'] });
    const ioGone = nextEvent<string>(annIo, 'disconnect');
    hub.disconnectUser('ann', 'account suspended');
    assert.deepEqual(await closed(annWs.ws), { code: DISCONNECTED_CLOSE_CODE, reason: 'account suspended' });
    assert.equal(await ioGone, 'io server disconnect');
    assert.equal(bobWs.ws.readyState, bobWs.ws.OPEN);
    bobWs.ws.close();
  });

  it('closes a recipient that does not read once its buffer passes the limit, and the others get everything', async (t) => {
    const slowServer = http.createServer();
    const slowHub = switchboard(slowServer, { slowConsumers: { maxBufferedBytes: 256 * 1024, onSlow: 'close' } });
    slowHub.ws('/feed').on('connection', (ws) => slowHub.join(ws, 'feed'));
    const address = await listen(slowServer);
    t.after(() => closeServer(slowServer));
    const slow = await open(`${address.url}/feed`);
    const fast = await open(`${address.url}/feed`);
    await eventually(() => slowHub.realtime.rooms.in('feed').size === 2);
    (slow as unknown as { _socket: import('node:net').Socket })._socket.pause();
    let fastBytes = 0;
    fast.on('message', (data) => {
      fastBytes += (data as Buffer).length;
    });
    const chunk = Buffer.alloc(64 * 1024, 7);
    let slowClosed = false;
    for (let round = 0; round < 400 && !slowClosed; round++) {
      const result = slowHub.publish('feed', chunk);
      slowClosed = result.closed === 1;
      await delay(2);
    }
    assert.ok(slowClosed, 'the slow connection was closed by the policy');
    (slow as unknown as { _socket: import('node:net').Socket })._socket.resume();
    const { code } = await closed(slow);
    assert.ok(code === SLOW_CLOSE_CODE || code === 1006, `closed with ${code}`);
    await eventually(() => fastBytes > 0);
    fast.close();
  });

  it('refuses a malformed slowConsumers or broker option', () => {
    assert.throws(
      () => switchboard(http.createServer(), { slowConsumers: { onSlow: 'drop' as never } }),
      /onSlow: 'close' \| 'skip'/,
    );
    assert.throws(
      () => switchboard(http.createServer(), { broker: {} as never }),
      /broker must be memoryBroker\(\) or redisBroker/,
    );
  });
});

describe('one memory broker shared by two hubs', () => {
  it('carries room publishes and user emits from one hub to the other', async (t) => {
    const broker = memoryBroker();
    const servers = [http.createServer(), http.createServer()];
    const hubs = servers.map((server) => switchboard(server, { broker }));
    for (const hub of hubs) mountLive(hub);
    const [one, two] = await Promise.all(servers.map((server) => listen(server)));
    t.after(() => Promise.all(servers.map((server) => closeServer(server))));
    const onTwo = await open(`${two?.url}/live?user=ann&tenant=acme`);
    const seen = inbox(onTwo);
    onTwo.send('join:news');
    await eventually(() => seen.includes('ok join:news'));
    hubs[0]?.publish('news', 'from hub one');
    hubs[0]?.toUser('ann').emit('hello', 'across hubs');
    await eventually(() => seen.length === 3);
    assert.deepEqual(seen.slice(1), ['from hub one', '{"event":"hello","data":"across hubs"}']);
    onTwo.close();
    assert.ok(one);
  });
});
