/**
 * A ws server the guard mounts keeps its own refusal bytes, so the hub learns of a refusal by
 * watching the handshake socket's end(). These check that the watch reports what ws refused,
 * leaves accepted connections alone, and still works on a socket another library patched first.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { contextOf, mountWs } from '../src/adapters/ws.js';
import { switchboard } from '../src/index.js';
import { closed, closeServer, eventually, handshakeRequest, listen, open, rawExchange } from './helpers.js';

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await closeServer(server);
});

/** A legacy-style ws server (`{ path }`, no hub listener of its own) mounted as the guard mounts it. */
async function guardMounted(onConnection?: (socket: net.Socket) => void) {
  const server = http.createServer();
  servers.push(server);
  if (onConnection) server.on('connection', onConnection);
  const hub = switchboard(server);
  const wss = new WebSocketServer({ noServer: true, path: '/chat' });
  mountWs(hub, '/chat', wss, undefined, { attached: true, owner: 'test' });
  const { port } = await listen(server);
  return { hub, wss, port };
}

describe("the guard's watch on ws's own refusals", () => {
  it("records ws's refusal with its status, and sends ws's bytes", async () => {
    const { hub, wss, port } = await guardMounted();
    const { response } = await rawExchange(
      port,
      handshakeRequest('/chat', []).replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 99'),
    );
    assert.match(response, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(response, /Content-Type: text\/html/);
    assert.match(response, /Sec-WebSocket-Version: 13, 8/);
    await eventually(() => hub.stats().rejected[400] === 1, 2_000, 'the refusal on the books');
    assert.equal(wss.listenerCount('wsClientError'), 0);
  });

  it('leaves accepted connections alone: context found, books kept, a clean close', async () => {
    const { hub, wss, port } = await guardMounted();
    const contexts: Array<string | undefined> = [];
    wss.on('connection', (ws, req) => {
      contexts.push(contextOf(req)?.path);
      ws.send('hi');
    });
    const client = await open(`ws://127.0.0.1:${port}/chat`);
    await eventually(() => contexts.length === 1, 2_000, 'the connection');
    assert.deepEqual(contexts, ['/chat']);
    assert.equal(hub.stats().connections, 1);
    assert.equal(hub.stats().accepted, 1);
    const [serverSide] = [...wss.clients];
    assert.ok(serverSide);
    // The server ends the socket itself (close handshake, then end()): no refusal may be recorded.
    serverSide.close(1000, 'bye');
    assert.deepEqual(await closed(client), { code: 1000, reason: 'bye' });
    await eventually(() => hub.stats().connections === 0, 2_000, 'the connection off the books');
    assert.deepEqual(hub.stats().rejected, {});
  });

  it('still reports a refusal on a socket whose end() another library patched first', async () => {
    let patchedEnds = 0;
    const { hub, port } = await guardMounted((socket) => {
      const end = socket.end;
      socket.end = function patchedEnd(this: net.Socket, ...args: unknown[]) {
        patchedEnds++;
        return (end as (...a: unknown[]) => net.Socket).apply(this, args);
      } as net.Socket['end'];
    });
    const { response } = await rawExchange(
      port,
      handshakeRequest('/chat').replace('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Key: short'),
    );
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.ok(patchedEnds >= 1, "the other library's end() was called");
    await eventually(() => hub.stats().rejected[400] === 1, 2_000, 'the refusal on the books');
    // And an accepted connection on such a socket works as usual.
    const client = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    client.close();
  });
});
