import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { switchboard } from '../src/index.js';
import { attempt, closed, closeServer, delay, listen, nextMessage, open } from './helpers.js';

describe('hub.close()', () => {
  it('closes every connection with 1001, delivers what was sent before, and refuses new handshakes with 503', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const chat = hub.ws('/chat');
    hub.handle('/raw', (req, socket, head, ctx) => {
      chat.handleUpgrade(req, socket, head, (ws) => ctx.accept(ws));
    });
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const clients = await Promise.all([open(`${url}/chat`), open(`${url}/chat`), open(`${url}/raw`)]);
    for (const ws of chat.clients) ws.send('last words');
    const closing = hub.close({ reason: 'deploy' });
    const late = await attempt(`${url}/chat`);
    assert.equal(late.status, 503);

    const results = await Promise.all(clients.map(async (ws) => ({ message: await nextMessage(ws), close: await closed(ws) })));
    for (const result of results) {
      assert.equal(result.message, 'last words');
      assert.deepEqual(result.close, { code: 1001, reason: 'deploy' });
    }
    await closing;
    assert.equal(hub.stats().connections, 0);
    assert.deepEqual(
      hub.routes().map((route) => route.connections),
      [0, 0],
    );
  });

  it('terminates connections that do not close within timeoutMs', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    hub.ws('/stubborn');
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const ws = await open(`${url}/stubborn`);
    // Stop reading: the client never answers the close frame.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const started = Date.now();
    await hub.close({ code: 4000, timeoutMs: 200 });
    assert.ok(Date.now() - started >= 150, 'waited for the timeout before terminating');
    assert.equal(hub.stats().connections, 0);
    // The server side is gone; the client, reading again, finds the socket closed.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
    await closed(ws);
  });

  it('closes a handshake that was past its checks when close() began', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    hub.ws(
      '/slow',
      {},
      {
        authenticate: async () => {
          await delay(100);
          return { userId: 'u' };
        },
      },
    );
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const pending = attempt(`${url}/slow`);
    await delay(30);
    await hub.close({ timeoutMs: 1_000 });
    const outcome = await pending;
    assert.equal(outcome.status, 503, 'answered 503 rather than admitted after close');
  });

  it('refuses an invalid close code', () => {
    const hub = switchboard(http.createServer());
    assert.throws(() => hub.close({ code: 1005 }), /not a close code a server may send/);
  });

  it('returns the same promise when called twice', async () => {
    const hub = switchboard(http.createServer());
    const first = hub.close();
    assert.equal(hub.close(), first);
    await first;
  });
});
