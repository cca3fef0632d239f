import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import express from 'express';
import Fastify from 'fastify';
import { Server } from 'socket.io';
import { PER_USER_LIMIT_CODE, REPLACED_EVENT, switchboard } from '../src/index.js';
import { attempt, closeServer, delay, eventually, listen, nextMessage, open, startApp } from './helpers.js';
import { connectIo, nextEvent, record, upgraded } from './io-helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const base = (port: number) => `http://127.0.0.1:${port}`;

describe('the Socket.IO failures of the table, without and with the hub', () => {
  it('without the hub: two Socket.IO servers on one HTTP server kill the process', async () => {
    const app = await startApp(fixture('legacy/socketio-two-servers.cjs'));
    assert.ok(app.port, app.output());
    await connectIo(base(app.port), { transports: ['websocket'], timeout: 1_000 }).catch(() => {});
    assert.notEqual(await app.exited, 0);
    assert.match(app.output(), /handleUpgrade\(\) was called more than once with the same socket/);
  });

  it('with the hub: a session without an HTTP request (WebTransport-only) still connects', { timeout: 10_000 }, async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const io = hub.io();
    // What engine.io gives a WebTransport-only session: no request, as socket.io's own test makes it.
    io.engine.on('connection', (conn: { request?: unknown }) => {
      delete conn.request;
    });
    const connected = new Promise<string>((resolve) => io.on('connection', (socket) => resolve(socket.id)));
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const client = await connectIo(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
    assert.equal(await connected, client.id, 'the server side of this very client connected');
    client.close();
  });

  it('without the hub: a catch-all ws server keeps Socket.IO clients on websocket from connecting', async (t) => {
    const app = await startApp(fixture('legacy/ws-catch-all-beside-socketio.cjs'));
    t.after(app.stop);
    assert.ok(app.port, app.output());
    await assert.rejects(connectIo(base(app.port), { transports: ['websocket'] }));
  });

  it('with the hub: two Socket.IO servers, two ws routes and an Express app share one port', async (t) => {
    const app = express();
    app.get('/health', (_req, res) => {
      res.json({ ok: true });
    });
    const server = http.createServer(app);
    const hub = switchboard(server);
    hub.socketio(new Server({ path: '/socket.io' })).on('connection', (socket) => socket.emit('hello', 'main'));
    hub.socketio(new Server({ path: '/whatsapp/socket.io' })).on('connection', (socket) => socket.emit('hello', 'whatsapp'));
    hub.ws('/*').on('connection', (ws) => ws.send('catch-all'));
    hub.ws('/notifications/ws').on('connection', (ws) => ws.send('notifications'));
    const { port, url } = await listen(server);
    t.after(() => closeServer(server));

    for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']]) {
      const main = await connectIo(base(port), { transports });
      const whatsapp = await connectIo(base(port), { path: '/whatsapp/socket.io', transports });
      assert.equal(await nextEvent(main, 'hello'), 'main', `main over ${transports}`);
      assert.equal(await nextEvent(whatsapp, 'hello'), 'whatsapp', `whatsapp over ${transports}`);
      if (transports.length === 2) {
        assert.equal(await upgraded(main), 'websocket');
        assert.equal(await upgraded(whatsapp), 'websocket');
      }
      main.close();
      whatsapp.close();
    }
    const catchAll = await open(`${url}/anything`);
    assert.equal(await nextMessage(catchAll), 'catch-all');
    const notifications = await open(`${url}/notifications/ws`);
    assert.equal(await nextMessage(notifications), 'notifications');
    catchAll.close();
    notifications.close();

    const health = await fetch(`${base(port)}/health`);
    assert.deepEqual(await health.json(), { ok: true });
    const missing = await fetch(`${base(port)}/missing`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /Cannot GET \/missing/, "Express's own 404 page");
  });

  it('with the hub: Socket.IO beside a Fastify app on fastify.server', async (t) => {
    const fastify = Fastify();
    fastify.get('/health', async () => ({ ok: true }));
    const hub = switchboard(fastify.server);
    hub.socketio(new Server({ path: '/socket.io' })).on('connection', (socket) => socket.emit('hello', 'fastify'));
    hub.ws('/live').on('connection', (ws) => ws.send('live'));
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => fastify.close());
    const { port } = fastify.server.address() as AddressInfo;

    for (const transports of [['websocket'], ['polling']]) {
      const socket = await connectIo(base(port), { transports });
      assert.equal(await nextEvent(socket, 'hello'), 'fastify');
      socket.close();
    }
    const ws = await open(`ws://127.0.0.1:${port}/live`);
    assert.equal(await nextMessage(ws), 'live');
    ws.close();
    assert.deepEqual(await (await fetch(`${base(port)}/health`)).json(), { ok: true });
    const missing = await fetch(`${base(port)}/missing`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /Route GET:\/missing not found/, "Fastify's own 404");
  });
});

describe('the shared Socket.IO server', () => {
  const server = http.createServer();
  const hub = switchboard(server);
  let port = 0;
  const io = hub.io({ cors: { origin: 'https://app.example.com' } }, { authenticate: (req) => principalOf(req) });

  io.on('connection', (socket) => socket.emit('where', { nsp: '/', data: socket.data }));
  hub
    .io()
    .of('/admin')
    .on('connection', (socket) => socket.emit('where', { nsp: '/admin', data: socket.data }));
  hub
    .io()
    .of('/seller')
    .on('connection', (socket) => socket.emit('where', { nsp: '/seller', data: socket.data }));
  hub
    .io()
    .of(/^\/shop-\w+$/)
    .on('connection', (socket) => socket.emit('where', { nsp: socket.nsp.name, data: socket.data }));

  before(async () => {
    ({ port } = await listen(server));
  });
  after(() => closeServer(server));

  it('is one server, whoever asks for it', () => {
    assert.equal(hub.io(), io);
    assert.equal(hub.io({ cors: { origin: 'https://app.example.com' } }), io, 'the same options are fine');
    assert.throws(() => hub.io({ path: '/other' }), /already exists with options/);
    assert.throws(() => hub.io(undefined, { maxConnections: 3 }), /other route options/);
  });

  it('serves the default, named and dynamic namespaces, with the principal in socket.data of each', async () => {
    const auth = { extraHeaders: { authorization: 'user=ann;tenant=acme' } };
    for (const nsp of ['/', '/admin', '/seller', '/shop-berlin']) {
      const socket = await connectIo(`${base(port)}${nsp === '/' ? '' : nsp}`, { transports: ['polling'], ...auth });
      const where = await nextEvent<{ nsp: string; data: Record<string, unknown> }>(socket, 'where');
      assert.equal(where.nsp, nsp);
      assert.equal(where.data.userId, 'ann');
      assert.equal(where.data.tenantId, 'acme');
      assert.deepEqual(where.data.principal, { userId: 'ann', tenantId: 'acme', role: 'member' });
      assert.equal(where.data.role, 'member');
      socket.close();
    }
  });

  it('refuses an unauthenticated session on both transports, before Socket.IO sees it', async () => {
    let sessions = 0;
    const count = () => sessions++;
    io.engine.on('connection', count);
    await assert.rejects(connectIo(base(port), { transports: ['polling'] }));
    await assert.rejects(connectIo(base(port), { transports: ['websocket'] }));
    io.engine.off('connection', count);
    assert.equal(sessions, 0, 'engine.io never saw the refused sessions');
    assert.ok((hub.stats().rejected[401] ?? 0) >= 2);
  });

  it('honours the CORS settings of io on a preflight', async () => {
    const response = await fetch(`${base(port)}/socket.io/?EIO=4&transport=polling`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example.com');
  });

  it('reaches exactly the sockets of one user or one tenant, in all namespaces or one', async () => {
    const connectAs = (header: string, nsp = '') =>
      connectIo(`${base(port)}${nsp}`, { transports: ['websocket'], extraHeaders: { authorization: header } });
    const ann = await connectAs('user=ann;tenant=acme');
    const annAdmin = await connectAs('user=ann;tenant=acme', '/admin');
    const bob = await connectAs('user=bob;tenant=acme');
    const eve = await connectAs('user=eve;tenant=globex');
    const all = { ann, annAdmin, bob, eve };
    const seen: Record<string, string[]> = { ann: [], annAdmin: [], bob: [], eve: [] };
    for (const [name, socket] of Object.entries(all)) socket.on('note', (text: string) => seen[name]?.push(text));

    hub.toUser('ann').emit('note', 'for ann everywhere');
    hub.toUser('ann', { namespace: '/admin' }).emit('note', 'for ann in admin');
    hub.toTenant('acme').emit('note', 'for acme');
    hub.toTenant('globex', { namespace: '/' }).emit('note', 'for globex');
    hub.toUser('nobody').emit('note', 'for nobody');
    await eventually(() => seen.eve?.length === 1 && seen.annAdmin?.length === 3);
    await delay(50);
    assert.deepEqual(seen, {
      ann: ['for ann everywhere', 'for acme'],
      annAdmin: ['for ann everywhere', 'for ann in admin', 'for acme'],
      bob: ['for acme'],
      eve: ['for globex'],
    });
    for (const socket of Object.values(all)) socket.close();
  });
});

describe('route options on Socket.IO routes', () => {
  it('refuses a foreign origin and applies maxConnections to sessions', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const io = hub.socketio(new Server({ path: '/limited' }), { origins: ['https://app.example.com'], maxConnections: 1 });
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const options = { path: '/limited', transports: ['websocket'], extraHeaders: { origin: 'https://app.example.com' } };

    await assert.rejects(connectIo(base(port), { ...options, extraHeaders: { origin: 'https://evil.example' } }));
    assert.equal((hub.stats().rejected[403] ?? 0) > 0, true);
    const first = await connectIo(base(port), options);
    await assert.rejects(connectIo(base(port), options));
    await assert.rejects(connectIo(base(port), { ...options, transports: ['polling'] }));
    assert.equal(hub.stats().rejected[503], 2);
    assert.equal(io.engine.clientsCount, 1);
    assert.equal(hub.routes()[0]?.connections, 1);
    first.close();
    await eventually(() => hub.routes()[0]?.connections === 0);
    const again = await connectIo(base(port), options);
    again.close();
  });

  it('refuses a server that is already attached, explaining what to do', () => {
    const hub = switchboard(http.createServer());
    const attached = new Server(http.createServer());
    assert.throws(() => hub.socketio(attached), /already attached to an HTTP server/);
    assert.throws(() => hub.socketio({} as never), /expected a Socket.IO Server/);
    attached.close();
  });
});

describe('per-user connection policy', () => {
  const server = http.createServer();
  const hub = switchboard(server);
  let port = 0;
  const auth = { authenticate: (req: http.IncomingMessage) => principalOf(req) };
  hub.socketio(new Server({ path: '/one' }), { ...auth, perUser: { max: 1, onExceed: 'reject' } });
  const replaceable = hub.socketio(new Server({ path: '/latest' }), { ...auth, perUser: { max: 1, onExceed: 'replace-oldest' } });
  replaceable.of('/admin');
  hub.ws('/ws-one', {}, { ...auth, perUser: { max: 1 } });
  hub.ws('/ws-latest', {}, { ...auth, perUser: { max: 2, onExceed: 'replace-oldest' } });

  before(async () => {
    ({ port } = await listen(server));
  });
  after(() => closeServer(server));
  const as = (user: string) => ({ extraHeaders: { authorization: `user=${user};tenant=t` } });

  it("'reject' gives the extra Socket.IO client a connect_error that says why", async () => {
    const first = await connectIo(base(port), { path: '/one', transports: ['websocket'], ...as('ann') });
    const error = (await connectIo(base(port), { path: '/one', transports: ['polling'], ...as('ann') }).catch(
      (e) => e,
    )) as Error & {
      data?: { code: string };
    };
    assert.match(error.message, /too many connections for this user \(at most 1/);
    assert.equal(error.data?.code, PER_USER_LIMIT_CODE);
    const other = await connectIo(base(port), { path: '/one', transports: ['websocket'], ...as('bob') });
    first.close();
    other.close();
  });

  it("'replace-oldest' disconnects the old session with a reason, and it does not come back", async () => {
    const old = await connectIo(base(port), { path: '/latest', transports: ['websocket'], ...as('ann'), reconnection: true });
    const oldAdmin = record(old.io.socket('/admin'));
    oldAdmin.connect();
    await nextEvent(oldAdmin, 'connect');
    const reason = nextEvent<{ reason: string }>(old, REPLACED_EVENT);
    const disconnected = nextEvent<string>(old, 'disconnect');
    let reconnects = 0;
    old.io.on('reconnect_attempt', () => reconnects++);

    const latest = await connectIo(base(port), { path: '/latest', transports: ['polling'], ...as('ann') });
    assert.match((await reason).reason, /replaced by a newer connection/);
    assert.equal(await disconnected, 'io server disconnect');
    await delay(300);
    assert.equal(reconnects, 0, 'the replaced client does not reconnect');
    assert.equal(latest.connected, true);
    assert.equal(await hub.realtime.userConnections(findRoute(hub, '/latest/*'), 'ann'), 1);
    latest.close();
    old.close();
  });

  it("'reject' on a ws route answers 429, and admits again once the first closes", async () => {
    const headers = { authorization: 'user=ann;tenant=t' };
    const first = await open(`ws://127.0.0.1:${port}/ws-one`, { headers });
    const second = await attempt(`ws://127.0.0.1:${port}/ws-one`, { headers });
    assert.equal(second.status, 429);
    assert.match(second.body, /too many connections for this user/);
    first.close();
    await eventually(async () => (await hub.realtime.userConnections(findRoute(hub, '/ws-one'), 'ann')) === 0);
    (await open(`ws://127.0.0.1:${port}/ws-one`, { headers })).close();
  });

  it("'replace-oldest' on a ws route closes the oldest with 4001", async () => {
    const headers = { authorization: 'user=ann;tenant=t' };
    const first = await open(`ws://127.0.0.1:${port}/ws-latest`, { headers });
    const firstClosed = new Promise<[number, string]>((resolve) =>
      first.once('close', (code, why) => resolve([code, String(why)])),
    );
    const second = await open(`ws://127.0.0.1:${port}/ws-latest`, { headers });
    const third = await open(`ws://127.0.0.1:${port}/ws-latest`, { headers });
    assert.deepEqual(await firstClosed, [4001, 'replaced by a newer connection of the same user']);
    assert.equal(second.readyState, second.OPEN);
    assert.equal(third.readyState, third.OPEN);
    second.close();
    third.close();
  });
});

/** Test principals: `authorization: user=ann;tenant=acme`. */
function principalOf(req: http.IncomingMessage) {
  const header = req.headers.authorization;
  if (!header) return null;
  const fields = Object.fromEntries(header.split(';').map((part) => part.split('=')));
  return { userId: fields.user, tenantId: fields.tenant, role: 'member' };
}

function findRoute(hub: ReturnType<typeof switchboard>, pattern: string) {
  const route = (hub as unknown as { mounted: Array<{ pattern: string }> }).mounted.find((each) => each.pattern === pattern);
  assert.ok(route, `route ${pattern}`);
  return route as never;
}

describe('the shared Socket.IO server and the one the app mounted', () => {
  it('hub.io() returns the server the app mounted on its path, and refuses options it cannot apply', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const own = hub.socketio(new Server({ path: '/socket.io' }));
    assert.equal(hub.io(), own);
    assert.equal(hub.io({ path: '/socket.io' }), own);
    assert.throws(() => hub.io({ pingInterval: 1_000 }), {
      code: 'ERR_INVALID_OPTION',
      message: /already mounted with hub\.socketio/,
    });
    own.on('connection', (socket) => socket.emit('hello', 'own'));
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const client = await connectIo(base(port), { transports: ['websocket'] });
    t.after(() => client.close());
    assert.equal(await nextEvent<string>(client, 'hello'), 'own');
  });

  it('io.httpServer.address() answers as the real server does after hub.socketio(io)', async (t) => {
    const server = http.createServer();
    const io = switchboard(server).socketio(new Server({ path: '/socket.io' }));
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    assert.equal((io.httpServer.address() as AddressInfo).port, port);
    assert.deepEqual(io.httpServer.address(), server.address());
  });
});
