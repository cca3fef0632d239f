import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import type { Server as SocketIOServer } from 'socket.io';
import { io as plainIo } from 'socket.io-client';
import { ClientError } from '../src/client/index.js';
import { sharedSocket, sharedSockets } from '../src/client/socketio.js';
import { REPLACED_EVENT, switchboard } from '../src/index.js';
import { closeServer, delay, eventually, listen } from './helpers.js';

async function startIo(routeOptions?: Parameters<ReturnType<typeof switchboard>['io']>[1]) {
  const server = http.createServer();
  const hub = switchboard(server);
  const io: SocketIOServer = hub.io(undefined, routeOptions);
  for (const name of ['/', '/chat', '/admin']) {
    io.of(name).on('connection', (socket) => socket.emit('hello', name));
  }
  const { port } = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    hub,
    io,
    sessions: () => io.engine.clientsCount,
    stop: async () => {
      await hub.close({ timeoutMs: 500 });
      if (server.listening) await closeServer(server);
    },
  };
}

const connected = (socket: { connected: boolean }) => eventually(() => socket.connected, 5_000, 'socket connected');

describe('switchboard/client/socketio: one Manager per URL, one socket per namespace', () => {
  it('plain io() opens a second connection for the same namespace; sharedSocket does not', async (t) => {
    const srv = await startIo();
    t.after(srv.stop);
    const a = plainIo(`${srv.url}/chat`, { transports: ['websocket'] });
    const b = plainIo(`${srv.url}/chat`, { transports: ['websocket'] });
    await Promise.all([connected(a), connected(b)]);
    assert.notEqual(a.io, b.io);
    assert.equal(srv.sessions(), 2, 'the problem: two connections');
    a.close();
    b.close();
    await eventually(() => srv.sessions() === 0);

    const options = { namespace: '/chat', transports: ['websocket'] };
    const first = sharedSocket(srv.url, options);
    const second = sharedSocket(srv.url, { namespace: '/chat', transports: ['websocket'] });
    const third = sharedSocket(`${srv.url}/chat`, { transports: ['websocket'] });
    assert.equal(second, first);
    assert.equal(third, first, 'the namespace may be given in the URL, as with io()');
    await connected(first);
    assert.equal(srv.sessions(), 1);
    for (const each of [first, second, third]) each.release();
    await eventually(() => srv.sessions() === 0, 5_000, 'the last release to disconnect');
    assert.deepEqual(sharedSockets(), []);
  });

  it('carries every namespace over one connection and brings back a released namespace over it', async (t) => {
    const srv = await startIo();
    t.after(srv.stop);
    const chat = sharedSocket(srv.url, { namespace: '/chat', transports: ['websocket'] });
    const admin = sharedSocket(srv.url, { namespace: '/admin', transports: ['websocket'] });
    const root = sharedSocket(srv.url, { transports: ['websocket'] });
    await Promise.all([connected(chat), connected(admin), connected(root)]);
    assert.equal(chat.io, admin.io);
    assert.equal(srv.sessions(), 1);

    const greetings: string[] = [];
    chat.release();
    await eventually(() => !chat.connected);
    const again = sharedSocket(srv.url, { namespace: '/chat', transports: ['websocket'] });
    again.on('hello', (name: string) => greetings.push(name));
    await connected(again);
    await eventually(() => greetings.length === 1);
    assert.deepEqual(greetings, ['/chat']);
    assert.equal(again.io, admin.io, 'over the same Manager');
    assert.equal(srv.sessions(), 1, 'plain io() would open a second connection here');
    assert.equal(srv.hub.stats().upgrades, 1);

    for (const each of [again, admin, root]) each.release();
    await eventually(() => srv.sessions() === 0);
  });

  it('refuses other Manager options for the same URL, and another auth for the same namespace', async (t) => {
    const srv = await startIo();
    t.after(srv.stop);
    const chat = sharedSocket(srv.url, { namespace: '/chat', transports: ['websocket'], auth: { token: 'a' } });
    t.after(() => chat.release());
    assert.throws(
      () => sharedSocket(srv.url, { namespace: '/admin', transports: ['polling'] }),
      (error: unknown) => error instanceof ClientError && /transports/.test(error.message),
    );
    assert.throws(() => sharedSocket(srv.url, { namespace: '/chat', transports: ['websocket'], auth: { token: 'b' } }), /auth/);
    const admin = sharedSocket(srv.url, { namespace: '/admin', transports: ['websocket'], auth: { token: 'b' } });
    t.after(() => admin.release());
    await Promise.all([connected(chat), connected(admin)]);
    assert.equal(srv.sessions(), 1);
  });

  it('stays disconnected when the per-user policy replaces it', async (t) => {
    const srv = await startIo({
      authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '' }),
      perUser: { max: 1, onExceed: 'replace-oldest' },
    });
    t.after(srv.stop);
    const options = { transports: ['websocket'], reconnectionDelay: 10, reconnectionDelayMax: 20 };
    const first = sharedSocket(`${srv.url}?user=alice&tab=1`, options);
    t.after(() => first.release());
    const replaced: unknown[] = [];
    first.on(REPLACED_EVENT, (info: unknown) => replaced.push(info));
    await connected(first);
    const second = sharedSocket(`${srv.url}?user=alice&tab=2`, options);
    t.after(() => second.release());
    await connected(second);
    await eventually(() => !first.connected && replaced.length === 1);
    await delay(200);
    assert.equal(first.connected, false);
    assert.equal(srv.hub.stats().upgrades, 2, 'no loop');
  });
});
