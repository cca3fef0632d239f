import assert from 'node:assert/strict';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { switchboard } from '../src/index.js';
import { attempt, closeServer, listen, nextMessage, open } from './helpers.js';

type Listener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** An 'upgrade' listener as libraries write them: answers its own path, leaves every other socket alone. */
function libraryListener(path: string, greeting: string): Listener & { calls: string[] } {
  const wss = new WebSocketServer({ noServer: true });
  const calls: string[] = [];
  const listener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    calls.push(req.url ?? '');
    if (req.url?.split('?')[0] !== path) return;
    wss.handleUpgrade(req, socket, head, (ws) => ws.send(greeting));
  };
  return Object.assign(listener, { calls });
}

describe('hub.serverFor(): a stand-in server for a library that adds its own listener', () => {
  it("gives the library's listeners the handshakes of its routes only, after their checks", async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const standIn = hub.serverFor('/library/*', { authenticate: (req) => (req.headers.authorization ? {} : null) });
    const library = libraryListener('/library/live', 'from the library');
    standIn.on('upgrade', library);
    hub.ws('/chat').on('connection', (ws) => ws.send('from the hub'));
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const live = await open(`${url}/library/live`, { headers: { Authorization: 'yes' } });
    assert.equal(await nextMessage(live), 'from the library');
    assert.equal((await attempt(`${url}/library/live`)).status, 401, "the route's checks run first");
    const chat = await open(`${url}/chat`);
    assert.equal(await nextMessage(chat), 'from the hub');
    assert.deepEqual(library.calls, ['/library/live'], 'never offered a socket of another route');
    assert.deepEqual(
      hub.routes().map(({ pattern, kind }) => [pattern, kind]),
      [
        ['/library/*', 'upgrade listener'],
        ['/chat', 'ws'],
      ],
    );
    live.close();
    chat.close();
  });

  it('offers a handshake to its listeners in turn until one answers; answers 503 while it has none', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const standIn = hub.serverFor('/', { protocol: 'first' }).route('/', { protocol: 'second' });
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const early = await attempt(url, { protocols: 'first' });
    assert.equal(early.status, 503);
    assert.equal(early.headers['retry-after'], '1');

    const first = libraryListener('/', 'first listener');
    const second = libraryListener('/', 'second listener');
    standIn.on('upgrade', first);
    standIn.on('upgrade', second);
    for (const protocol of ['first', 'second']) {
      const ws = await open(url, { protocols: protocol });
      assert.equal(await nextMessage(ws), 'first listener', `through the route for ${protocol}`);
      ws.close();
    }
    assert.deepEqual(second.calls, [], 'a socket the first listener took is never handed to the second');

    standIn.close();
    assert.equal((await attempt(url, { protocols: 'first' })).status, 404, 'close() takes its routes away');
  });

  it('refuses a pattern that is not a string with a clear error', () => {
    const hub = switchboard(http.createServer());
    assert.throws(() => hub.serverFor(undefined as unknown as string), {
      code: 'ERR_INVALID_OPTION',
      message: /pattern must be a route pattern such as '\/_next\/\*'/,
    });
  });
});

describe('hub.adopt(listener)', () => {
  it("takes a listener off the server and offers it only what no route takes; skips the hub's own", async (t) => {
    const server = http.createServer();
    const library = libraryListener('/library', 'from the library');
    server.on('upgrade', library);
    const hub = switchboard(server);
    for (const listener of server.listeners('upgrade')) hub.adopt(listener as Listener);
    assert.equal(server.listenerCount('upgrade'), 1, "only the hub's own listener is left on the server");
    assert.equal(hub.adoptedListeners().length, 1);
    hub.ws('/chat').on('connection', (ws) => ws.send('from the hub'));
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const chat = await open(`${url}/chat`);
    assert.equal(await nextMessage(chat), 'from the hub');
    const adopted = await open(`${url}/library`);
    assert.equal(await nextMessage(adopted), 'from the library');
    assert.deepEqual(library.calls, ['/library'], 'never handed a socket a route took');
    chat.close();
    adopted.close();
  });

  it('keeps a listener added with once() to one handshake, as the server would have', { timeout: 10_000 }, async (t) => {
    const server = http.createServer();
    const library = libraryListener('/library', 'from the library');
    server.once('upgrade', library);
    const hub = switchboard(server);
    hub.adopt(library);
    assert.equal(server.listenerCount('upgrade'), 1, "only the hub's own listener is left on the server");
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const first = await open(`${url}/library`);
    assert.equal(await nextMessage(first), 'from the library');
    assert.equal(hub.adoptedListeners().length, 0);
    const second = await attempt(`${url}/library`);
    assert.equal(second.status, 404);
    assert.deepEqual(library.calls, ['/library']);
    first.close();
  });

  it('refuses what is not a listener with a clear error', () => {
    const hub = switchboard(http.createServer());
    assert.throws(() => hub.adopt('listener' as unknown as Listener), {
      code: 'ERR_INVALID_OPTION',
      message: /expected an 'upgrade' listener \(req, socket, head\) => void, got string/,
    });
  });
});
