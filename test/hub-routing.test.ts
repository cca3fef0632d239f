import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { contextOf, switchboard } from '../src/index.js';
import { attempt, closeServer, listen, nextMessage, open, startApp } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('the ws failures of the table, without and with the hub', () => {
  it('without the hub: a catch-all ws server beside one with a path kills the process', async () => {
    const app = await startApp(fixture('legacy/ws-catch-all-beside-path.cjs'));
    assert.ok(app.port, app.output());
    await attempt(`ws://127.0.0.1:${app.port}/notifications/ws`);
    const code = await app.exited;
    assert.notEqual(code, 0);
    assert.match(app.output(), /handleUpgrade\(\) was called more than once with the same socket/);
  });

  it('without the hub: of two ws servers with two paths, the second path is answered 400', async (t) => {
    const app = await startApp(fixture('legacy/ws-two-paths.cjs'));
    t.after(app.stop);
    assert.ok(app.port, app.output());
    const second = await attempt(`ws://127.0.0.1:${app.port}/notifications/ws`);
    assert.equal(second.status, 400);
  });

  it('with the hub: a catch-all and a path each get their own handshakes', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    hub.ws('/*').on('connection', (ws) => ws.send('catch-all'));
    hub.ws('/notifications/ws').on('connection', (ws) => ws.send('notifications'));
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    const notifications = await open(`${url}/notifications/ws`);
    assert.equal(await nextMessage(notifications), 'notifications');
    const other = await open(`${url}/anything/else?x=1`);
    assert.equal(await nextMessage(other), 'catch-all');
    notifications.close();
    other.close();
  });

  it('with the hub: two ws servers with two paths both work', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    hub.ws('/chat').on('connection', (ws) => ws.send('chat'));
    hub.ws('/notifications/ws').on('connection', (ws) => ws.send('notifications'));
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    for (const [path, greeting] of [
      ['/chat', 'chat'],
      ['/notifications/ws', 'notifications'],
    ]) {
      const ws = await open(`${url}${path}`);
      assert.equal(await nextMessage(ws), greeting);
      ws.close();
    }
  });
});

describe('routing real handshakes', () => {
  const server = http.createServer();
  const hub = switchboard(server);
  let url = '';
  after(() => closeServer(server));

  const reply = (name: string) => hub.ws(name).on('connection', (ws) => ws.send(name));
  reply('/rooms/lobby');
  hub.ws('/rooms/:id').on('connection', (ws, req) => ws.send(`room ${new URL(req.url ?? '', 'http://x').pathname}`));
  hub.handle('/raw/*', (req, socket, _head, ctx) => {
    const wss = new WebSocketServer({ noServer: true });
    wss.handleUpgrade(req, socket, Buffer.alloc(0), (ws) => ws.send(`raw ${ctx.params['*']} ${ctx.query.get('q')}`));
  });
  hub.handle('/params/:a/:b', (req, socket, head, ctx) => {
    const wss = new WebSocketServer({ noServer: true });
    wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify(ctx.params)));
  });
  hub.ws('/hmr', {}, { protocol: 'vite-hmr' }).on('connection', (ws) => ws.send(`hmr ${ws.protocol}`));
  hub.ws('/hmr').on('connection', (ws) => ws.send('hmr without protocol'));
  hub.ws('/site', {}, { host: 'admin.localhost' }).on('connection', (ws) => ws.send('admin site'));
  hub.ws('/site').on('connection', (ws) => ws.send('any site'));

  it('starts', async () => {
    ({ url } = await listen(server));
  });

  const cases: Array<[string, string, object?]> = [
    ['/rooms/lobby', '/rooms/lobby'],
    ['/rooms/42?token=abc', 'room /rooms/42'],
    ['/raw/a/b?q=1', 'raw a/b 1'],
    ['/params/x%20y/2', '{"a":"x y","b":"2"}'],
    ['/hmr', 'hmr vite-hmr', { protocols: ['vite-hmr'] }],
    ['/hmr', 'hmr without protocol'],
    ['/site', 'admin site', { headers: { host: 'admin.localhost:1234' } }],
    ['/site', 'any site'],
  ];
  for (const [path, expected, options] of cases) {
    it(`routes ${path} ${options ? JSON.stringify(options) : ''} to the right service`, async () => {
      const ws = await open(`${url}${path}`, options);
      assert.equal(await nextMessage(ws), expected);
      ws.close();
    });
  }

  it('answers 404 for a path no route takes', async () => {
    const outcome = await attempt(`${url}/nowhere`);
    assert.equal(outcome.status, 404);
    assert.equal(outcome.headers.connection, 'close');
    assert.match(outcome.body, /no route/);
  });

  it('lists its routes with their kind, owner and live connections', async () => {
    const ws = await open(`${url}/rooms/7`);
    await nextMessage(ws);
    const routes = hub.routes();
    const rooms = routes.find((route) => route.pattern === '/rooms/:id');
    assert.equal(rooms?.kind, 'ws');
    assert.equal(rooms?.connections, 1);
    assert.match(rooms?.owner ?? '', /test\/hub-routing\.test\.ts:\d+:\d+/);
    assert.equal(routes.find((route) => route.pattern === '/raw/*')?.kind, 'handler');
    assert.deepEqual(
      routes.filter((route) => route.protocol || route.host).map((route) => [route.pattern, route.protocol ?? route.host]),
      [
        ['/hmr', 'vite-hmr'],
        ['/site', 'admin.localhost'],
      ],
    );
    ws.close();
  });
});

describe('a ws server the app made', () => {
  it('hub.ws(path, new WebSocketServer({ noServer: true })) serves the path with that server', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', (ws) => ws.send(`clients ${wss.clients.size}`));
    assert.equal(hub.ws('/mine', wss), wss);
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const ws = await open(`${url}/mine`);
    assert.equal(await nextMessage(ws), 'clients 1');
    ws.close();
  });
});

describe('the client address in the context', () => {
  it('ctx.ip is the client address in a handler and once a ws connection opened, with no limits set', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const seen: (string | undefined)[] = [];
    hub.ws('/where').on('connection', (ws, req) => ws.send(`from ${contextOf(req)?.ip}`));
    hub.handle('/raw', (_req, socket, _head, ctx) => {
      seen.push(ctx.ip);
      socket.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const ws = await open(`${url}/where`);
    assert.equal(await nextMessage(ws), 'from 127.0.0.1');
    ws.close();
    await attempt(`${url}/raw`);
    assert.deepEqual(seen, ['127.0.0.1']);
  });
});

describe('one hub per server', () => {
  it('returns the same hub on every call and adds one upgrade listener', () => {
    const server = http.createServer();
    const before = server.listenerCount('upgrade');
    const first = switchboard(server);
    const second = switchboard(server);
    assert.equal(first, second);
    assert.equal(server.listenerCount('upgrade'), before + 1);
  });

  it('refuses conflicting options on a later call, and accepts the same ones', () => {
    const server = http.createServer();
    switchboard(server, { handshakeTimeoutMs: 2_000 });
    assert.doesNotThrow(() => switchboard(server, { handshakeTimeoutMs: 2_000 }));
    assert.throws(() => switchboard(server, { handshakeTimeoutMs: 3_000 }), /already exists with handshakeTimeoutMs 2000/);
  });

  it('keeps two hubs on two servers in one process apart', async (t) => {
    const one = http.createServer();
    const two = http.createServer();
    switchboard(one)
      .ws('/same')
      .on('connection', (ws) => ws.send('one'));
    switchboard(two)
      .ws('/same')
      .on('connection', (ws) => ws.send('two'));
    assert.notEqual(switchboard(one), switchboard(two));
    const [a, b] = await Promise.all([listen(one), listen(two)]);
    t.after(() => Promise.all([closeServer(one), closeServer(two)]));
    const wsA = await open(`${a.url}/same`);
    const wsB = await open(`${b.url}/same`);
    assert.equal(await nextMessage(wsA), 'one');
    assert.equal(await nextMessage(wsB), 'two');
    wsA.close();
    wsB.close();
  });

  it('works on an https.Server', async (t) => {
    const server = https.createServer({
      key: readFileSync(fixture('tls/key.pem')),
      cert: readFileSync(fixture('tls/cert.pem')),
    });
    const hub = switchboard(server);
    hub.ws('/secure').on('connection', (ws) => ws.send('over tls'));
    const { port } = await listen(server as unknown as http.Server);
    t.after(() => closeServer(server as unknown as http.Server));
    const ws = await open(`wss://127.0.0.1:${port}/secure`, { rejectUnauthorized: false });
    assert.equal(await nextMessage(ws), 'over tls');
    ws.close();
    const missing = await attempt(`wss://127.0.0.1:${port}/other`, { rejectUnauthorized: false });
    assert.equal(missing.status, 404);
  });
});
