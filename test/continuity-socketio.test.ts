import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { PER_USER_LIMIT_CODE, switchboard } from '../src/index.js';
import { closeServer, eventually, listen } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';

describe("Socket.IO's own recovery through the hub", () => {
  it('connectionStateRecovery restores a dropped session with the user emits it missed', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const io = hub.socketio(new Server({ path: '/socket.io', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } }), {
      authenticate: () => ({ userId: 'ann' }),
    });
    const serverSockets: ServerSocket[] = [];
    io.on('connection', (socket) => serverSockets.push(socket));
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const client = await connectIo(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 50,
    });
    t.after(() => client.close());
    const heard: unknown[] = [];
    client.on('invoice', (data: unknown) => heard.push(data));
    hub.toUser('ann').emit('invoice', 1);
    await eventually(() => heard.length === 1);
    // The transport drops (not a server disconnect), and the user gets an emit meanwhile.
    serverSockets[0]?.conn.close();
    await eventually(() => !client.connected);
    hub.toUser('ann').emit('invoice', 2);
    await eventually(() => client.connected && heard.length === 2);
    assert.equal(client.recovered, true);
    assert.deepEqual(heard, [1, 2]);
  });
});

/**
 * A hub whose Socket.IO server restores dropped sessions, with a per-user limit of one, the user
 * taken from `?user=`; each socket joins 'board' and is sent 'welcome' (a session is restored from
 * the last packet the client got: there must be one).
 */
async function restoringHub(t: TestContext) {
  const server = http.createServer();
  const hub = switchboard(server);
  const io = hub.socketio(new Server({ path: '/socket.io', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } }), {
    authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anon' }),
    perUser: { max: 1 },
  });
  const serverSockets: ServerSocket[] = [];
  io.on('connection', (socket) => {
    serverSockets.push(socket);
    socket.join('board');
    socket.emit('welcome');
  });
  const { port } = await listen(server);
  t.after(async () => {
    await hub.close({ timeoutMs: 100 });
    await closeServer(server);
  });
  return { hub, serverSockets, base: `http://127.0.0.1:${port}` };
}

describe('a session Socket.IO restores without running the middlewares (skipMiddlewares, its default)', () => {
  it('keeps its presence and counts against the per-user limit', async (t) => {
    const { hub, serverSockets, base } = await restoringHub(t);
    const client = await connectIo(base, {
      query: { user: 'ann' },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 50,
    });
    t.after(() => client.close());
    await nextEvent(client, 'welcome');
    await eventually(async () => (await hub.presenceCount('board')) === 1);
    // The transport drops; Socket.IO restores the session, rooms and data, without the middlewares.
    serverSockets[0]?.conn.close();
    await eventually(() => !client.connected);
    await eventually(() => client.connected);
    assert.equal(client.recovered, true);
    await eventually(async () => (await hub.presenceCount('board')) === 1, 2_000, 'ann in the room again');
    assert.deepEqual(
      (await hub.presence('board')).map((member) => member.userId),
      ['ann'],
    );
    assert.equal(await hub.presenceCount('user:ann'), 1);
    // The restored session is ann's one connection: a second one is over the limit.
    const second = connectIo(base, { query: { user: 'ann' }, transports: ['websocket'], reconnection: false });
    await assert.rejects(second, /too many connections for this user/);
    client.close();
    await eventually(async () => (await hub.presenceCount('board')) === 0, 2_000, 'ann gone');
  });
});

describe('a restored session over the per-user limit', () => {
  it('is refused with a connect_error that says why, and does not reconnect', async (t) => {
    const { serverSockets, base } = await restoringHub(t);
    // Reconnection on, but not before the second connection has taken bo's one place.
    const first = await connectIo(base, {
      query: { user: 'bo' },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 300,
      randomizationFactor: 0,
    });
    t.after(() => first.close());
    await nextEvent(first, 'welcome');
    const refused = new Promise<Error & { data?: { code: string } }>((resolve, reject) => {
      first.once('connect_error', resolve);
      setTimeout(() => reject(new Error('the restored session was not refused')), 5_000).unref();
    });
    serverSockets[0]?.conn.close();
    await eventually(() => !first.connected);
    const second = await connectIo(base, { query: { user: 'bo' }, transports: ['websocket'] });
    t.after(() => second.close());
    const why = await refused;
    assert.match(why.message, /too many connections for this user/);
    assert.equal(why.data?.code, PER_USER_LIMIT_CODE);
    await eventually(() => !first.connected && !first.active, 2_000, 'the first session closed for good');
    assert.equal(second.connected, true);
  });
});
