import assert from 'node:assert/strict';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { switchboard } from '../src/index.js';
import { attempt, closeServer, delay, listen, nextMessage, open } from './helpers.js';

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

  it('answers 404 at once when every listener of the stand-in leaves the socket alone', { timeout: 10_000 }, async (t) => {
    const server = http.createServer();
    const hub = switchboard(server, { handshakeTimeoutMs: 60_000 });
    const standIn = hub.serverFor('/library/*');
    const library = libraryListener('/library/live', 'from the library');
    standIn.on('upgrade', library);
    // Next.js's way: a promise that settles without the socket having been used.
    standIn.on('upgrade', async () => {});
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const outcome = await attempt(`${url}/library/gone`);
    assert.equal(outcome.status, 404);
    assert.match(outcome.body, /^404 Not Found: no route or upgrade listener took this path/);
    const live = await open(`${url}/library/live`);
    assert.equal(await nextMessage(live), 'from the library');
    live.close();
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

describe('hub.adopt(listener): an answer as soon as no adopted listener will take the socket', () => {
  // Far longer than each test may run: a 404 that waited for it would fail the test instead.
  const patient = { handshakeTimeoutMs: 60_000 };

  async function adoptedServer(t: { after: (fn: () => Promise<void>) => void }, listeners: Listener[], options = patient) {
    const server = http.createServer();
    const hub = switchboard(server, options);
    for (const listener of listeners) hub.adopt(listener);
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    return { hub, url };
  }

  it('answers 404 at once when a listener ignores the socket and returns (as Vite does)', { timeout: 10_000 }, async (t) => {
    // Vite's own: a socket it does not serve gets an 'error' listener and nothing else.
    const vite: Listener = (req, socket) => {
      if (req.headers['sec-websocket-protocol'] === 'vite-hmr') return;
      socket.on('error', () => {});
    };
    const library = libraryListener('/library', 'from the library');
    const { url } = await adoptedServer(t, [vite, library]);
    const outcome = await attempt(`${url}/elsewhere`);
    assert.equal(outcome.status, 404);
    assert.match(outcome.body, /^404 Not Found: no route or upgrade listener took this path/);
    const adopted = await open(`${url}/library`);
    assert.equal(await nextMessage(adopted), 'from the library', 'the listener after one that declined still gets its sockets');
    adopted.close();
  });

  it("waits for a listener's promise, then answers 404 at once if it declined", { timeout: 10_000 }, async (t) => {
    const order: string[] = [];
    const lookup: Listener = async (req) => {
      order.push('lookup starts');
      await delay(50);
      order.push('lookup declines');
      if (req.url === '/mine') throw new Error('never');
    };
    const after: Listener = (req) => {
      order.push(`offered ${req.url}`);
    };
    const { url } = await adoptedServer(t, [lookup, after]);
    const outcome = await attempt(`${url}/elsewhere`);
    assert.equal(outcome.status, 404);
    assert.deepEqual(
      order,
      ['lookup starts', 'lookup declines', 'offered /elsewhere'],
      'the next listener is offered it only then',
    );
  });

  it('lets a listener answer after its own asynchronous lookup, with or without returning a promise', {
    timeout: 10_000,
  }, async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', (ws, req) => ws.send(`welcome to ${req.url}`));
    // An async function: its promise settles once it answered.
    const withPromise: Listener = async (req, socket, head) => {
      if (req.url !== '/promise') return;
      await delay(100);
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    };
    // ws's README way: a callback-style lookup, nothing returned, nothing done to the socket until it answers.
    const withCallback: Listener = (req, socket, head) => {
      if (req.url !== '/callback') return;
      socket.on('error', () => {});
      setTimeout(() => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)), 100);
    };
    const { url } = await adoptedServer(t, [withPromise, withCallback]);
    for (const path of ['/promise', '/callback']) {
      const ws = await open(`${url}${path}`);
      assert.equal(await nextMessage(ws), `welcome to ${path}`);
      ws.close();
    }
  });

  it('keeps a socket a listener took until the handshake timeout: 408 if it never answers', { timeout: 10_000 }, async (t) => {
    const offered: string[] = [];
    const takesAndForgets: Listener = (req, socket) => {
      if (req.url === '/taken') socket.pause();
    };
    const promisesAndForgets: Listener = (req) => (req.url === '/promised' ? new Promise(() => {}) : undefined);
    const startsAndForgets: Listener = (req) => {
      offered.push(req.url ?? '');
      if (req.url === '/started') setTimeout(() => {}, 10);
    };
    const { url } = await adoptedServer(t, [takesAndForgets, promisesAndForgets, startsAndForgets], { handshakeTimeoutMs: 300 });
    assert.equal((await attempt(`${url}/taken`)).status, 408);
    assert.equal((await attempt(`${url}/promised`)).status, 408, 'a listener still working on its promise');
    const started = await attempt(`${url}/started`);
    assert.equal(started.status, 404, 'a listener that started work but took nothing: nobody took the path');
    assert.deepEqual(offered, ['/started'], 'a socket taken, or awaited, is offered to no later listener');
  });

  it("answers 500 when a listener's promise rejects before it answered, and reports the error", {
    timeout: 10_000,
  }, async (t) => {
    const failing: Listener = async () => {
      await delay(10);
      throw new Error('lookup failed');
    };
    const { hub, url } = await adoptedServer(t, [failing]);
    const errors: unknown[] = [];
    hub.on('error', (error) => errors.push(error));
    assert.equal((await attempt(`${url}/x`)).status, 500);
    assert.match(String(errors[0]), /lookup failed/);
  });
});
