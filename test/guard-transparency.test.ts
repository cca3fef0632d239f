import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { installGuard } from '../src/guard/index.js';
import { switchboard } from '../src/index.js';
import { attempt, closed, closeServer, eventually, listen, nextMessage, open } from './helpers.js';

// This file's process runs with the guard installed, as an app started with --import would.
installGuard();

describe('with the guard, a legacy ws server behaves as without it', () => {
  it('keeps its options, events, clients set, address and close behaviour', async (t) => {
    const server = http.createServer();
    const options = { server, path: '/legacy', maxPayload: 1024 };
    const wss = new WebSocketServer(options);
    assert.equal(wss.options.server, server);
    assert.equal(wss.options.path, '/legacy');
    assert.equal(wss.options.maxPayload, 1024);
    const listening = new Promise((resolve) => wss.once('listening', resolve));
    const connections: unknown[][] = [];
    wss.on('connection', (...args) => {
      connections.push(args);
      (args[0] as import('ws').WebSocket).send('hi');
    });
    const { url, port } = await listen(server);
    t.after(() => closeServer(server));
    await listening;
    assert.deepEqual(wss.address(), server.address(), 'address() is the real server');
    assert.equal(server.listenerCount('upgrade'), 1, "only the hub's listener is on the server");

    const ws = await open(`${url}/legacy?token=1`);
    assert.equal(await nextMessage(ws), 'hi');
    assert.equal(wss.clients.size, 1);
    const [socket, req] = connections[0] as [unknown, http.IncomingMessage];
    assert.ok(socket);
    assert.equal(req.url, '/legacy?token=1', "the 'connection' event carries the request");
    assert.deepEqual(
      switchboard(server)
        .routes()
        .map((route) => route.pattern),
      ['/legacy'],
    );

    const closing = new Promise((resolve) => wss.close(resolve));
    ws.close();
    await closed(ws);
    await closing;
    assert.deepEqual(switchboard(server).routes(), [], 'wss.close() takes its route away');
    assert.equal((await attempt(`ws://127.0.0.1:${port}/legacy`)).status, 404);
  });

  it("adopts once() and removeListener() of a raw 'upgrade' listener, and gives the server back after", async (t) => {
    // Without an 'upgrade' listener, Node hands an Upgrade request to the app's 'request' handler.
    const server = http.createServer((_req, res) => res.end('app'));
    const raw = new WebSocketServer({ noServer: true });
    let calls = 0;
    const listener = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
      calls++;
      raw.handleUpgrade(req, socket, head, (ws) => ws.send('raw'));
    };
    server.once('upgrade', listener);
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const first = await open(`${url}/x`);
    assert.equal(await nextMessage(first), 'raw');
    assert.equal(server.listenerCount('upgrade'), 0, 'a once listener is used once, and the hub goes with it');
    assert.equal((await attempt(`${url}/x`)).status, 200, "the next Upgrade request reaches the app's 'request' handler");
    server.on('upgrade', listener);
    assert.equal(server.listenerCount('upgrade'), 1);
    server.removeListener('upgrade', listener);
    assert.equal(server.listenerCount('upgrade'), 0, 'a removed listener leaves no hub behind');
    assert.equal((await attempt(`${url}/x`)).status, 200, 'a removed listener is no longer offered sockets');
    await eventually(() => calls === 1);
    first.close();
  });
});
