import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { switchboard } from '../src/index.js';
import { attempt, closed, closeServer, eventually, listen, nextMessage, open, startApp } from './helpers.js';

const SLOWLORIS = fileURLToPath(new URL('./fixtures/slowloris.cjs', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));

describe('hub-wide limits', () => {
  it('refuses beyond the global connection limit with 503 and per address with 429, each with Retry-After', async (t) => {
    const server = http.createServer();
    switchboard(server, { limits: { maxConnections: 3, maxConnectionsPerIp: 2 } }).ws('/chat');
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const from = (address: string) => ({ localAddress: address });

    const one = await open(`${url}/chat`, from('127.0.0.1'));
    const two = await open(`${url}/chat`, from('127.0.0.1'));
    const perIp = await attempt(`${url}/chat`, from('127.0.0.1'));
    assert.equal(perIp.status, 429);
    assert.ok(perIp.headers['retry-after']);
    const three = await open(`${url}/chat`, from('127.0.0.2'));
    const global = await attempt(`${url}/chat`, from('127.0.0.3'));
    assert.equal(global.status, 503);
    assert.ok(global.headers['retry-after']);
    one.close();
    await closed(one);
    await eventually(async () => (await attempt(`${url}/chat`, from('127.0.0.3'))).status === 101);
    for (const ws of [two, three]) ws.close();
  });

  it('refuses beyond the handshake rate: 429 for one address, 503 for everyone', async (t) => {
    const server = http.createServer();
    switchboard(server, { limits: { handshakesPerIpPerSecond: 3, handshakesPerSecond: 5 } }).ws('/chat');
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    // Within one second window (retried if the window turns over midway).
    await eventually(async () => {
      const statuses = [];
      for (let index = 0; index < 4; index++) statuses.push((await attempt(`${url}/chat`, { localAddress: '127.0.0.4' })).status);
      statuses.push((await attempt(`${url}/chat`, { localAddress: '127.0.0.5' })).status);
      statuses.push((await attempt(`${url}/chat`, { localAddress: '127.0.0.6' })).status);
      const second = await attempt(`${url}/chat`, { localAddress: '127.0.0.7' });
      return statuses.join() === '101,101,101,429,101,101' && second.status === 503 && Boolean(second.headers['retry-after']);
    }, 10_000);
  });

  it('refuses malformed limits with the list of known ones', () => {
    assert.throws(
      () => switchboard(http.createServer(), { limits: { maxConections: 1 } as never }),
      /unknown limit "maxConections"/,
    );
    assert.throws(() => switchboard(http.createServer(), { limits: { maxConnections: 0 } }), /whole number > 0/);
  });
});

describe('slow and half-open handshakes', () => {
  it('closes 10,000 unfinished handshakes after the handshake timeout, and other clients connect meanwhile', async (t) => {
    const server = http.createServer({ connectionsCheckingInterval: 250 });
    const hub = switchboard(server, { handshakeTimeoutMs: 1_500 });
    hub.ws('/chat').on('connection', (ws) => ws.send('welcome'));
    const { port, url } = await listen(server);
    t.after(() => closeServer(server));
    assert.equal(server.headersTimeout, 1_500, 'the headers timeout follows the handshake timeout');

    const loris = spawn(process.execPath, [SLOWLORIS, String(port), '10000', '30000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    loris.stdout.on('data', (chunk) => {
      output += chunk;
    });
    const done = new Promise<number | null>((resolve) => loris.once('exit', resolve));
    await eventually(() => output.includes('OPEN 10000'), 20_000, 'ten thousand slow connections');
    const ws = await open(`${url}/chat`);
    assert.equal(await nextMessage(ws), 'welcome', 'a real client still gets in');
    ws.close();
    assert.equal(await done, 0, output);
    assert.match(output, /CLOSED 10000/);
    await eventually(async () => (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) === 0);
  });
});

describe('graceful shutdown of the demo on SIGTERM', () => {
  it('closes open connections with 1001, after what the server sent, and exits 0', async () => {
    const app = await startApp(CLI, { args: ['demo', '--port', '0'], ready: /demo on http:\/\/localhost:(\d+)/ });
    const { port } = app;
    assert.ok(port, app.output());
    const chat = await open(`ws://127.0.0.1:${port}/chat?user=ann`);
    assert.equal(JSON.parse(await nextMessage(chat)).event, 'welcome');
    chat.send('last words');
    const echoed = nextMessage(chat);
    const gone = closed(chat);
    assert.equal(JSON.parse(await echoed).data.text, 'last words');
    process.kill(app.pid, 'SIGTERM');
    assert.deepEqual(await gone, { code: 1001, reason: 'demo shutting down' });
    assert.equal(await app.exited, 0);
  });
});
