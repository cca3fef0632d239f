import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Server } from 'socket.io';
import { WebSocketServer } from 'ws';
import { parseRequestTarget } from '../src/hub/index.js';
import { switchboard } from '../src/index.js';
import { RouteTable } from '../src/router/index.js';
import { closed, delay, eventually, handshakeRequest, listen, open, rawExchange } from './helpers.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n/;

/** Hostile and malformed handshakes, each as raw bytes, with what must come back. */
const corpus: Array<{ name: string; request: string | Buffer; expect?: number | number[] }> = [
  { name: 'a valid handshake, for reference', request: handshakeRequest('/chat'), expect: 101 },
  { name: 'wrong method', request: handshakeRequest('/chat').replace('GET', 'POST'), expect: 405 },
  {
    name: 'missing Sec-WebSocket-Key',
    request: handshakeRequest('/chat').replace(`Sec-WebSocket-Key: ${KEY}\r\n`, ''),
    expect: 400,
  },
  { name: 'invalid Sec-WebSocket-Key', request: handshakeRequest('/chat').replace(KEY, 'not-a-key'), expect: 400 },
  { name: 'unsupported version', request: handshakeRequest('/chat').replace('Version: 13', 'Version: 7'), expect: 400 },
  { name: 'Upgrade: h2c', request: handshakeRequest('/chat').replace('Upgrade: websocket', 'Upgrade: h2c'), expect: 400 },
  {
    name: 'Upgrade: h2c to a raw route',
    request: handshakeRequest('/raw/x').replace('Upgrade: websocket', 'Upgrade: h2c'),
    expect: 101,
  },
  { name: 'duplicate Sec-WebSocket-Key', request: handshakeRequest('/chat', [`Sec-WebSocket-Key: ${KEY}`]), expect: 400 },
  { name: 'duplicate Host', request: handshakeRequest('/chat', ['Host: evil.example']), expect: 400 },
  { name: 'oversized header', request: handshakeRequest('/chat', [`X-Big: ${'a'.repeat(20_000)}`]), expect: 431 },
  {
    name: 'too many headers',
    request: handshakeRequest(
      '/chat',
      Array.from({ length: 3_000 }, (_, index) => `X-H${index}: v`),
    ),
    expect: [101, 400, 431],
  },
  { name: 'absolute-form target', request: handshakeRequest('http://127.0.0.1/chat'), expect: 101 },
  { name: 'absolute-form target to an unknown path', request: handshakeRequest('http://127.0.0.1/nope'), expect: 404 },
  { name: 'asterisk target', request: handshakeRequest('*'), expect: 400 },
  { name: 'dot segments', request: handshakeRequest('/raw/../chat'), expect: 400 },
  { name: 'encoded dot segments', request: handshakeRequest('/raw/%2e%2e/chat'), expect: 400 },
  { name: 'double slash', request: handshakeRequest('//chat'), expect: 404 },
  { name: 'invalid percent-encoding', request: handshakeRequest('/rooms/%zz'), expect: 400 },
  { name: 'NUL byte in the path', request: Buffer.from(handshakeRequest('/ch\u0000at'), 'latin1'), expect: 400 },
  { name: 'control bytes in a header', request: handshakeRequest('/chat', ['X-Evil: a\u0001b']), expect: [101, 400] },
  { name: 'huge query string', request: handshakeRequest(`/chat?${'q'.repeat(100_000)}`), expect: 431 },
  { name: 'a body after the handshake', request: `${handshakeRequest('/chat')}garbage that is not a frame`, expect: 101 },
  { name: 'not HTTP at all', request: '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003', expect: 400 },
  {
    name: 'Socket.IO with an unknown protocol version',
    request: handshakeRequest('/socket.io/?EIO=9&transport=websocket'),
    expect: [101, 400],
  },
  {
    name: 'Socket.IO with an unknown session',
    request: handshakeRequest('/socket.io/?EIO=4&transport=websocket&sid=nope'),
    expect: 400,
  },
  { name: 'Socket.IO path without a slash', request: handshakeRequest('/socket.io'), expect: [400, 404, 408] },
];

describe('hostile handshakes', () => {
  const server = http.createServer({ connectionsCheckingInterval: 200 }, (_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const hub = switchboard(server, { handshakeTimeoutMs: 1_000 });
  const errors: unknown[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  let port = 0;

  hub.on('error', (error) => errors.push(error));
  hub.ws('/chat').on('connection', (ws) => ws.send('hi'));
  hub.ws('/rooms/:id');
  hub.ws('/small', { maxPayload: 1024 }).on('connection', (ws) => ws.on('message', () => ws.send('got it')));
  hub.socketio(new Server({ path: '/socket.io' }));
  const raw = new WebSocketServer({ noServer: true });
  hub.handle('/raw/*', (req, socket, head) => {
    // A raw handler that takes any Upgrade: it writes its own 101.
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
      return;
    }
    raw.handleUpgrade(req, socket, head, (ws) => ws.close());
  });

  before(async () => {
    process.on('uncaughtException', onUncaught);
    ({ port } = await listen(server));
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const entry of corpus) {
    it(`answers "${entry.name}" with a well-formed status or a close`, async () => {
      // A handshake that succeeds stays open: read what came within a moment, then hang up.
      const opens = [entry.expect ?? []].flat().includes(101);
      const { response, closedBy } = await rawExchange(port, entry.request, opens ? 300 : 4_000);
      const status = STATUS_LINE.exec(response)?.[1];
      if (status === undefined) {
        assert.equal(response, '', `either a status line or nothing: ${JSON.stringify(response.slice(0, 80))}`);
        assert.equal(closedBy, 'server');
        return;
      }
      const expected = [entry.expect ?? []].flat();
      if (expected.length > 0) assert.ok(expected.includes(Number(status)), `${entry.name}: got ${status}, expected ${expected}`);
      if (Number(status) !== 101 && !opens) {
        assert.equal(closedBy, 'server', 'a refused handshake is closed by the server');
        assert.match(response, /\r\nConnection: close\r\n/i);
      }
    });
  }

  it('answers a handshake that arrives one byte at a time', async () => {
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      response += chunk;
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    for (const byte of Buffer.from(handshakeRequest('/chat'))) {
      socket.write(Buffer.from([byte]));
      await delay(1);
    }
    await eventually(() => response.startsWith('HTTP/1.1 101'));
    socket.destroy();
  });

  it('closes a connection that sends an invalid frame with 1002, reported through hub.on("error")', async () => {
    const before = errors.length;
    const ws = await open(`ws://127.0.0.1:${port}/chat`);
    // Opcode 0x3 is reserved: a protocol error. No 'error' listener of the app's own exists on the server side.
    (ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    assert.equal((await closed(ws)).code, 1002);
    await eventually(() => errors.length > before);
    assert.match(String((errors.at(-1) as Error).message), /opcode/i);
  });

  it('closes a connection that sends an oversized message with 1009', async () => {
    const ws = await open(`ws://127.0.0.1:${port}/small`);
    ws.send(Buffer.alloc(4096));
    assert.equal((await closed(ws)).code, 1009);
  });

  it('never threw, and left no socket open', async () => {
    assert.deepEqual(uncaught, []);
    await eventually(
      async () => (await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)))) === 0,
      10_000,
      'every socket closed',
    );
  });
});

describe('property-based: the router and the hub never throw and always agree with themselves', () => {
  const segment = fc.stringMatching(/^[a-z0-9._~-]{1,6}$/);
  const pathArbitrary = fc
    .array(fc.oneof(segment, fc.constantFrom('', '%20', '%zz', '..', ':x', '*')), { maxLength: 6 })
    .map((parts) => `/${parts.join('/')}`);
  const patternArbitrary = fc
    .tuple(
      fc.array(
        fc.oneof(
          segment,
          segment.map((name) => `:${name.replace(/[^a-z]/g, '') || 'p'}`),
        ),
        { maxLength: 4 },
      ),
      fc.boolean(),
    )
    .map(([parts, prefix]) => `/${[...parts, ...(prefix ? ['*'] : [])].join('/')}`);

  it('the same request always reaches the same route, whatever the registration order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(patternArbitrary, { maxLength: 12 }),
        fc.array(pathArbitrary, { maxLength: 10 }),
        (patterns, paths) => {
          const forward = new RouteTable<string>();
          const backward = new RouteTable<string>();
          const added: string[] = [];
          for (const pattern of patterns) {
            try {
              if (forward.add({ pattern }, pattern).added) added.push(pattern);
            } catch {
              // An invalid generated pattern is refused at registration: that is the contract.
            }
          }
          for (const pattern of [...added].reverse()) backward.add({ pattern }, pattern);
          for (const path of paths) {
            const first = forward.match({ path })?.pattern.key;
            assert.equal(forward.match({ path })?.pattern.key, first, 'deterministic');
            assert.equal(backward.match({ path })?.pattern.key, first, 'independent of order');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an exact route always takes its own path', () => {
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.uniqueArray(patternArbitrary, { maxLength: 8 }),
        (parts, others) => {
          const path = `/${parts.join('/')}`;
          const table = new RouteTable<string>();
          table.add({ pattern: path }, 'exact');
          for (const pattern of others) {
            try {
              table.add({ pattern }, pattern);
            } catch {}
          }
          assert.equal(table.match({ path })?.value, 'exact');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('parsing any request target never throws', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.option(fc.string({ maxLength: 60 })),
        fc.option(fc.string({ maxLength: 60 })),
        (url, host, protocol) => {
          const headers: Record<string, string> = {};
          if (host !== null) headers.host = host;
          if (protocol !== null) headers['sec-websocket-protocol'] = protocol;
          parseRequestTarget({ url, headers } as never);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('any request line and headers sent to a live hub get a well-formed status or a close', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server, { handshakeTimeoutMs: 500 });
    hub.ws('/chat');
    hub.ws('/rooms/:id', {}, { origins: ['https://ok.test'] });
    hub.handle('/raw/*', (_req, _socket, _head, ctx) => ctx.reject(418, 'teapot'));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const { port } = await listen(server);
    t.after(async () => {
      process.off('uncaughtException', onUncaught);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const headerValue = fc.string({ maxLength: 40 }).map((value) => value.replace(/[\r\n]/g, ''));
    await fc.assert(
      fc.asyncProperty(
        pathArbitrary,
        fc.constantFrom('GET', 'POST', 'PUT', 'OPTIONS'),
        headerValue,
        headerValue,
        async (path, method, origin, protocol) => {
          const request = handshakeRequest(path, [`Origin: ${origin}`, `Sec-WebSocket-Protocol: ${protocol}`]).replace(
            /^GET/,
            method,
          );
          const { response } = await rawExchange(port, request, 2_000);
          assert.ok(response === '' || STATUS_LINE.test(response), JSON.stringify(response.slice(0, 60)));
        },
      ),
      { numRuns: 150 },
    );
    assert.deepEqual(uncaught, []);
  });
});
