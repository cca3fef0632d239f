import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { RejectEvent } from '../src/index.js';
import { switchboard } from '../src/index.js';
import { attempt, closeServer, delay, eventually, handshakeRequest, listen, nextMessage, open, rawExchange } from './helpers.js';

describe('every handshake gets an answer', () => {
  const server = http.createServer();
  const hub = switchboard(server, { handshakeTimeoutMs: 300 });
  const rejects: RejectEvent[] = [];
  const errors: unknown[] = [];
  hub.on('reject', (event) => rejects.push(event));
  hub.on('error', (error) => errors.push(error));
  let url = '';
  let port = 0;
  let slowAuthCalledHandler = false;

  hub.ws('/open').on('connection', (ws) => ws.send('hi'));
  const ownRefusals = new WebSocketServer({ noServer: true });
  ownRefusals.on('wsClientError', (_error, socket) => socket.end("HTTP/1.1 418 I'm a Teapot\r\nConnection: close\r\n\r\n"));
  hub.ws('/own-refusals', ownRefusals);
  hub.ws('/origin', {}, { origins: ['https://app.example.com'] }).on('connection', (ws) => ws.send('origin ok'));
  hub.ws('/origin-fn', {}, { origins: (origin) => origin?.endsWith('.trusted.test') ?? false });
  hub.ws('/limited', {}, { maxConnections: 1 });
  hub
    .ws(
      '/auth',
      {},
      { authenticate: (req) => (req.headers.authorization === 'Bearer good' ? { userId: 'u1', tenantId: 't1' } : null) },
    )
    .on('connection', (ws) => ws.send(JSON.stringify(ws.principal)));
  hub.ws(
    '/auth-throws',
    {},
    {
      authenticate: () => {
        throw new Error('token store down');
      },
    },
  );
  hub
    .ws(
      '/auth-async',
      {},
      {
        authenticate: async (req) => {
          await delay(20);
          return req.headers.authorization === 'Bearer good' ? { name: 'async' } : null;
        },
      },
    )
    .on('connection', (ws) => ws.send(JSON.stringify(ws.principal)));
  hub
    .ws(
      '/auth-slow',
      {},
      {
        authenticate: async () => {
          await delay(150);
          return { name: 'late' };
        },
      },
    )
    .on('connection', () => {
      slowAuthCalledHandler = true;
    });
  hub.handle('/throws', () => {
    throw new Error('handler bug');
  });
  hub.handle('/rejects', async () => {
    await delay(5);
    throw new Error('async handler bug');
  });
  hub.handle('/silent', () => {
    // Neither accepts nor rejects: the hub must answer 408.
  });
  hub.handle('/refuses', (_req, _socket, _head, ctx) => ctx.reject(429, 'slow down', { 'Retry-After': 3 }));
  hub.handle(
    '/ctx',
    (_req, socket, _head, ctx) => {
      const body = JSON.stringify({ principal: ctx.principal, identity: ctx.identity, params: ctx.params });
      socket.end(`HTTP/1.1 418 I'm a Teapot\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    },
    { authenticate: () => ({ userId: 7, tenantId: 'acme', role: 'admin' }) },
  );

  before(async () => {
    ({ url, port } = await listen(server));
  });
  after(() => closeServer(server));

  it('refuses a foreign origin with 403 and lets a listed one in', async () => {
    assert.equal((await attempt(`${url}/origin`, { origin: 'https://evil.example' })).status, 403);
    const ws = await open(`${url}/origin`, { origin: 'https://app.example.com' });
    assert.equal(await nextMessage(ws), 'origin ok');
    ws.close();
    assert.equal((await attempt(`${url}/origin-fn`, { origin: 'https://evil.example' })).status, 403);
    const fromFn = await attempt(`${url}/origin-fn`, { origin: 'https://a.trusted.test' });
    assert.equal(fromFn.status, 101);
    fromFn.ws?.close();
  });

  it('answers 503 with Retry-After beyond maxConnections, and admits again once one closes', async () => {
    const first = await open(`${url}/limited`);
    const second = await attempt(`${url}/limited`);
    assert.equal(second.status, 503);
    assert.ok(second.headers['retry-after']);
    first.close();
    await eventually(() => hub.routes().find((route) => route.pattern === '/limited')?.connections === 0);
    const third = await open(`${url}/limited`);
    third.close();
  });

  it('answers 401 when authenticate returns null, throws, or resolves null', async () => {
    assert.equal((await attempt(`${url}/auth`)).status, 401);
    assert.equal((await attempt(`${url}/auth-throws`)).status, 401);
    assert.equal((await attempt(`${url}/auth-async`, { headers: { authorization: 'Bearer bad' } })).status, 401);
    assert.ok(
      errors.some((error) => (error as Error).message === 'token store down'),
      'a throwing authenticate is reported',
    );
  });

  it('hands the principal to the connection, sync and async', async () => {
    const sync = await open(`${url}/auth`, { headers: { authorization: 'Bearer good' } });
    assert.deepEqual(JSON.parse(await nextMessage(sync)), { userId: 'u1', tenantId: 't1' });
    const later = await open(`${url}/auth-async`, { headers: { authorization: 'Bearer good' } });
    assert.deepEqual(JSON.parse(await nextMessage(later)), { name: 'async' });
    sync.close();
    later.close();
  });

  it("gives a handler's ctx the principal, identity and params", async () => {
    const outcome = await attempt(`${url}/ctx`);
    assert.equal(outcome.status, 418);
    assert.deepEqual(JSON.parse(outcome.body), {
      principal: { userId: 7, tenantId: 'acme', role: 'admin' },
      identity: { userId: '7', tenantId: 'acme' },
      params: {},
    });
  });

  it('answers 500 when a handler throws or rejects, and reports the error', async () => {
    assert.equal((await attempt(`${url}/throws`)).status, 500);
    assert.equal((await attempt(`${url}/rejects`)).status, 500);
    assert.ok(errors.some((error) => (error as Error).message === 'handler bug'));
    assert.ok(errors.some((error) => (error as Error).message === 'async handler bug'));
  });

  it('answers 408 when a route neither accepts nor rejects in time', async () => {
    const outcome = await attempt(`${url}/silent`);
    assert.equal(outcome.status, 408);
  });

  it("passes on a handler's own rejection with its headers", async () => {
    const outcome = await attempt(`${url}/refuses`);
    assert.equal(outcome.status, 429);
    assert.equal(outcome.headers['retry-after'], '3');
    assert.match(outcome.body, /slow down/);
  });

  it("counts a route library's own refusal (ws answering 400 to a bad key)", async () => {
    const before = hub.stats().rejected[400] ?? 0;
    const { response } = await rawExchange(port, handshakeRequest('/open', []).replace('dGhlIHNhbXBsZSBub25jZQ==', 'short'));
    assert.match(response, /^HTTP\/1\.1 400 /);
    await eventually(() => (hub.stats().rejected[400] ?? 0) === before + 1);
  });

  it("answers ws's other refusals as ws would: 400 with the versions it speaks, 405 for a method other than GET", async () => {
    const before = hub.stats().rejected[400] ?? 0;
    const version = await rawExchange(
      port,
      handshakeRequest('/open').replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 12'),
    );
    assert.match(version.response, /^HTTP\/1\.1 400 /);
    assert.match(version.response, /\r\nSec-WebSocket-Version: 13, 8\r\n/);
    assert.equal(version.closedBy, 'server');
    const method = await rawExchange(port, handshakeRequest('/open').replace(/^GET /, 'POST '));
    assert.match(method.response, /^HTTP\/1\.1 405 /);
    await eventually(() => (hub.stats().rejected[400] ?? 0) === before + 1 && (hub.stats().rejected[405] ?? 0) >= 1);
  });

  it("leaves ws's refusals to the app's own wsClientError listener when its server has one", async () => {
    const { response } = await rawExchange(port, handshakeRequest('/own-refusals').replace('dGhlIHNhbXBsZSBub25jZQ==', 'short'));
    assert.equal(response, "HTTP/1.1 418 I'm a Teapot\r\nConnection: close\r\n\r\n");
  });

  it('writes each rejection as a well-formed HTTP/1.1 response with Connection: close, then closes', async () => {
    const { response, closedBy } = await rawExchange(port, handshakeRequest('/nowhere'));
    assert.equal(closedBy, 'server');
    const [head, body] = response.split('\r\n\r\n');
    const lines = (head ?? '').split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 404 Not Found');
    assert.ok(lines.includes('Connection: close'));
    const length = Number(lines.find((line) => line.startsWith('Content-Length: '))?.slice(16));
    assert.equal(Buffer.byteLength(body ?? ''), length);
  });

  it('refuses a path two components could read differently with 400', async () => {
    for (const path of ['/open/../admin', '/open/%2e%2e/admin', '/open%zz']) {
      const { response } = await rawExchange(port, handshakeRequest(path));
      assert.match(response, /^HTTP\/1\.1 400 /, path);
    }
  });

  it('calls nothing and leaks nothing when the client leaves during an async check', async () => {
    const abortedBefore = hub.stats().aborted;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(handshakeRequest('/auth-slow'));
    await delay(40);
    // An RST, not a FIN: the rudest way to leave.
    socket.resetAndDestroy();
    await delay(200);
    assert.equal(slowAuthCalledHandler, false, 'the route handler was not called');
    assert.equal(hub.stats().aborted, abortedBefore + 1);
    const route = hub.routes().find((candidate) => candidate.pattern === '/auth-slow');
    assert.equal(route?.connections, 0);
    await eventually(async () => (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) === 0);
  });

  it('reports every rejection through hub.on("reject") and hub.stats()', () => {
    const stats = hub.stats();
    for (const status of [400, 401, 403, 404, 408, 429, 500, 503]) {
      assert.ok((stats.rejected[status] ?? 0) > 0, `stats count ${status}`);
      assert.ok(
        rejects.some((event) => event.status === status),
        `reject event for ${status}`,
      );
    }
    assert.ok(rejects.find((event) => event.status === 403)?.pattern === '/origin');
    assert.ok(stats.upgrades >= stats.accepted + Object.values(stats.rejected).reduce((a, b) => a + b, 0));
    assert.ok(stats.accepted >= 6);
  });
});

describe("unmatched: 'pass'", () => {
  it('leaves unmatched handshakes to another upgrade listener', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server, { unmatched: 'pass' });
    hub.ws('/mine').on('connection', (ws) => ws.send('mine'));
    server.on('upgrade', (req, socket) => {
      if (req.url === '/mine') return;
      socket.end('HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    assert.equal((await attempt(`${url}/theirs`)).status, 409);
    const mine = await open(`${url}/mine`);
    assert.equal(await nextMessage(mine), 'mine');
    mine.close();
  });

  it('still answers 404 when no other listener exists', async (t) => {
    const server = http.createServer();
    switchboard(server, { unmatched: 'pass' });
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    assert.equal((await attempt(`${url}/theirs`)).status, 404);
  });
});

describe('a hub without error listeners', () => {
  it('logs handler errors through its logger instead of crashing', async (t) => {
    const logged: Array<[object, string | undefined]> = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error: (fields: object, message?: string) => logged.push([fields, message]),
    };
    const server = http.createServer();
    const hub = switchboard(server, { logger });
    hub.handle('/boom', () => {
      throw new Error('boom');
    });
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    assert.equal((await attempt(`${url}/boom`)).status, 500);
    assert.equal(logged.length, 1);
    const [fields] = logged[0] ?? [{}];
    assert.equal((fields as { err?: Error }).err?.message, 'boom');
    assert.equal(hub.stats().errors, 1);
  });
});
