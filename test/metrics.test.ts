import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { WebSocket, WebSocketServer } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import { switchboard } from '../src/index.js';
import { collectMetrics } from '../src/metrics/index.js';
import {
  attempt,
  closed,
  closeServer,
  eventually,
  failure,
  handshakeRequest,
  listen,
  nextMessage,
  open,
  PrivateRedis,
  rawExchange,
} from './helpers.js';
import { connectIo } from './io-helpers.js';

const servers: http.Server[] = [];
after(async () => {
  for (const server of servers.splice(0)) await closeServer(server);
});

/** The value of one series in the registry's text output, or undefined when it is not there. */
async function value(register: Registry, series: string): Promise<number | undefined> {
  const text = await register.metrics();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return undefined;
}

describe('switchboard/metrics', () => {
  it('counts handshakes by route and status, connections by route, and times handshakes', async () => {
    const server = http.createServer();
    servers.push(server);
    const hub = switchboard(server);
    const register = new Registry();
    collectMetrics(hub, { register });
    const chat = hub.ws('/chat/:room', {}, { maxConnections: 2 });
    chat.on('connection', (ws) => ws.send('hi'));
    hub.ws('/private', {}, { authenticate: () => false });
    hub.ws('/plain');
    const { port } = await listen(server);
    const base = `ws://127.0.0.1:${port}`;

    const first = await open(`${base}/chat/a`);
    const second = await open(`${base}/chat/b`);
    assert.equal(await value(register, 'switchboard_connections{route="/chat/:room",kind="ws"}'), 2);
    assert.equal((await attempt(`${base}/chat/c`)).status, 503);
    assert.equal((await attempt(`${base}/private`)).status, 401);
    assert.equal((await attempt(`${base}/nowhere`)).status, 404);
    // ws's own refusal of a bad key, through the hub.
    const { response } = await rawExchange(port, handshakeRequest('/plain').replace('dGhlIHNhbXBsZSBub25jZQ==', 'bad'));
    assert.match(response, /^HTTP\/1\.1 400 /);

    await eventually(async () => (await value(register, 'switchboard_handshakes_total{route="/plain",status="400"}')) === 1);
    assert.equal(await value(register, 'switchboard_handshakes_total{route="/chat/:room",status="101"}'), 2);
    assert.equal(await value(register, 'switchboard_handshakes_total{route="/chat/:room",status="503"}'), 1);
    assert.equal(await value(register, 'switchboard_handshakes_total{route="/private",status="401"}'), 1);
    assert.equal(await value(register, 'switchboard_handshakes_total{route="",status="404"}'), 1);
    // Raw paths never become label values.
    assert.doesNotMatch(await register.metrics(), /\/chat\/a|\/nowhere/);
    const timed = await value(register, 'switchboard_handshake_duration_seconds_count{route="/chat/:room"}');
    assert.equal(timed, 3, 'two accepted and the 503 timed');
    assert.equal(await value(register, 'switchboard_handshake_duration_seconds_count{route="/plain"}'), 1, "ws's refusal timed");
    const sum = await value(register, 'switchboard_handshake_duration_seconds_sum{route="/chat/:room"}');
    assert.ok(sum !== undefined && sum > 0 && sum < 10, `a plausible total duration, got ${sum}`);

    first.close();
    second.close();
    await Promise.all([closed(first), closed(second)]);
    await eventually(async () => (await value(register, 'switchboard_connections{route="/chat/:room",kind="ws"}')) === 0);
  });

  it('counts publishes by type, recipients and slow consumers', async () => {
    const server = http.createServer();
    servers.push(server);
    const hub = switchboard(server, { slowConsumers: { maxBufferedBytes: 1024, onSlow: 'skip' } });
    const register = new Registry();
    collectMetrics(hub, { register, prefix: 'app_' });
    const members: import('ws').WebSocket[] = [];
    hub.ws('/live', {}, { authenticate: () => ({ userId: 'u1' }) }).on('connection', (ws) => {
      hub.join(ws, 'news');
      members.push(ws);
    });
    const { port } = await listen(server);
    const client = await open(`ws://127.0.0.1:${port}/live`);
    await eventually(() => members.length === 1);
    hub.publish('news', 'one');
    assert.equal(await nextMessage(client), 'one');
    hub.toUser('u1').emit('ping', 1);
    assert.deepEqual(JSON.parse(await nextMessage(client)), { event: 'ping', data: 1 });
    assert.equal(await value(register, 'app_messages_published_total{type="publish"}'), 1);
    assert.equal(await value(register, 'app_messages_published_total{type="emit"}'), 1);
    assert.equal(await value(register, 'app_broadcast_recipients_total'), 2);

    // A recipient that does not read: its socket buffer fills, then the broadcast skips it.
    const raw = net.connect(port, '127.0.0.1');
    raw.write(handshakeRequest('/live'));
    await eventually(() => members.length === 2);
    raw.pause();
    const slowOne = members[1] as import('ws').WebSocket;
    const big = 'x'.repeat(64 * 1024);
    await eventually(() => {
      hub.publish('news', big);
      return slowOne.bufferedAmount > 1024;
    }, 10_000);
    hub.publish('news', 'after');
    assert.ok(((await value(register, 'app_slow_consumers_total{action="skip"}')) ?? 0) >= 1);
    raw.destroy();
    client.close();
  });

  it('counts recoveries: missed messages replayed, or a gap when they are gone', async () => {
    const server = http.createServer();
    servers.push(server);
    const hub = switchboard(server, { history: { size: 3, ttlMs: 60_000 } });
    const register = new Registry();
    collectMetrics(hub, { register });
    hub.ws('/live', {}, { recover: true }).on('connection', (ws) => hub.join(ws, 'news'));
    const { port } = await listen(server);
    const connect = async (resume?: [number, string]) => {
      const query = resume ? `?sb_resume=${Buffer.from(JSON.stringify({ news: resume })).toString('base64url')}` : '';
      const ws = new WebSocket(`ws://127.0.0.1:${port}/live${query}`);
      const frames: Array<{ sb?: string; offset?: number; epoch?: string }> = [];
      ws.on('message', (data) => frames.push(JSON.parse(String(data))));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      await eventually(() => frames.some((frame) => frame.sb === 'pos'));
      return { ws, frames };
    };
    const first = await connect();
    const position = first.frames.find((frame) => frame.sb === 'pos');
    first.ws.close();
    await closed(first.ws);
    hub.publish('news', 'missed');
    const back = await connect([position?.offset ?? 0, position?.epoch ?? '']);
    assert.ok(
      back.frames.some((frame) => frame.sb === 'msg'),
      'the missed message replayed',
    );
    assert.equal(await value(register, 'switchboard_recoveries_total{result="replayed"}'), 1);
    back.ws.close();
    await closed(back.ws);
    for (let index = 0; index < 5; index++) hub.publish('news', `gone ${index}`);
    const late = await connect([position?.offset ?? 0, position?.epoch ?? '']);
    assert.ok(
      late.frames.some((frame) => frame.sb === 'gap'),
      'a gap: the history kept only the last 3',
    );
    assert.equal(await value(register, 'switchboard_recoveries_total{result="gap"}'), 1);
    late.ws.close();
  });

  it('reports the broker going down and coming back', async (t) => {
    const redis = new PrivateRedis(6393);
    t.after(() => redis.kill());
    await redis.answering();
    const server = http.createServer();
    servers.push(server);
    const hub = switchboard(server, {
      broker: redisBroker({ url: redis.url, prefix: `metrics-${randomUUID()}` }),
    });
    // The outage is reported through 'error' once; here it is expected.
    hub.on('error', () => {});
    const register = new Registry();
    collectMetrics(hub, { register });
    hub.ws('/rooms').on('connection', (ws) => hub.join(ws, 'metrics-room'));
    await hub.ready();
    assert.equal(await value(register, 'switchboard_broker_up'), 1);
    assert.equal(await value(register, 'switchboard_broker_rooms'), 0);
    const { url } = await listen(server);
    const member = await open(`${url}/rooms`);
    await eventually(async () => (await value(register, 'switchboard_broker_rooms')) === 1, 5_000, 'one room followed');
    member.close();
    redis.kill();
    await eventually(async () => (await value(register, 'switchboard_broker_up')) === 0, 10_000, 'broker down');
    redis.restart();
    await eventually(async () => (await value(register, 'switchboard_broker_up')) === 1, 15_000, 'broker back');
    await hub.close();
  });

  it("counts the per-user policy's replacements and refusals, adopted listeners' handshakes, and Socket.IO sockets by namespace", async (t) => {
    const server = http.createServer();
    servers.push(server);
    // A legacy listener on the server before the hub, adopted: it answers /legacy and leaves the rest.
    const legacy = new WebSocketServer({ noServer: true });
    const legacyListener = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
      if (req.url === '/legacy') legacy.handleUpgrade(req, socket, head, (ws) => ws.close());
    };
    server.on('upgrade', legacyListener);
    const hub = switchboard(server);
    hub.adopt(legacyListener);
    const register = new Registry();
    collectMetrics(hub, { register });
    hub.ws('/one', {}, { authenticate: () => ({ userId: 'ann' }), perUser: { max: 1 } });
    hub.ws('/newest', {}, { authenticate: () => ({ userId: 'ann' }), perUser: { max: 1, onExceed: 'replace-oldest' } });
    const io = hub.io(undefined, {});
    io.of('/admin');
    io.of(/^\/tenant-\w+$/);
    const { port } = await listen(server);
    const base = `ws://127.0.0.1:${port}`;

    const kept = await open(`${base}/one`);
    assert.equal((await attempt(`${base}/one`)).status, 429);
    const older = await open(`${base}/newest`);
    const newer = await open(`${base}/newest`);
    await closed(older);
    await eventually(async () => (await value(register, 'switchboard_per_user_total{route="/newest",action="replaced"}')) === 1);
    assert.equal(await value(register, 'switchboard_per_user_total{route="/one",action="refused"}'), 1);

    const legacyClient = new WebSocket(`${base}/legacy`);
    await closed(legacyClient);
    assert.equal((await attempt(`${base}/elsewhere`)).status, 404);
    await eventually(async () => (await value(register, 'switchboard_adopted_handshakes_total{result="declined"}')) === 1);
    assert.equal(await value(register, 'switchboard_adopted_handshakes_total{result="answered"}'), 1);

    const sockets = [
      await connectIo(`http://127.0.0.1:${port}`, { transports: ['websocket'] }),
      await connectIo(`http://127.0.0.1:${port}/admin`, { transports: ['websocket'] }),
      await connectIo(`http://127.0.0.1:${port}/tenant-a`, { transports: ['websocket'] }),
      await connectIo(`http://127.0.0.1:${port}/tenant-b`, { transports: ['websocket'] }),
    ];
    t.after(() => {
      for (const socket of sockets) socket.close();
    });
    assert.equal(await value(register, 'switchboard_socketio_sockets{path="/socket.io",namespace="/"}'), 1);
    assert.equal(await value(register, 'switchboard_socketio_sockets{path="/socket.io",namespace="/admin"}'), 1);
    // The children of a dynamic namespace are one label value: tenant names never become labels.
    assert.equal(await value(register, 'switchboard_socketio_sockets{path="/socket.io",namespace="/^\\\\/tenant-\\\\w+$/"}'), 2);
    assert.doesNotMatch(await register.metrics(), /tenant-a/);
    kept.close();
    newer.close();
  });

  it('refuses misuse with a clear error, and stop() lets another take its place', () => {
    const hub = switchboard(http.createServer());
    const register = new Registry();
    assert.equal(failure(() => collectMetrics(hub, { registry: register } as never)).code, 'ERR_INVALID_OPTION');
    assert.match(failure(() => collectMetrics(hub, { registry: register } as never)).message, /unknown option "registry"/);
    assert.equal(failure(() => collectMetrics(hub, { prefix: 'bad-prefix' })).code, 'ERR_INVALID_OPTION');
    assert.equal(failure(() => collectMetrics({} as never)).code, 'ERR_INVALID_OPTION');
    const first = collectMetrics(hub, { register });
    const twice = failure(() => collectMetrics(hub, { register }));
    assert.equal(twice.code, 'ERR_METRICS_REGISTERED');
    assert.match(twice.message, /stop\(\)/);
    first.stop();
    assert.equal(register.getMetricsAsArray().length, 0);
    collectMetrics(hub, { register }).stop();
    assert.equal(hub.listenerCount('connection'), 1, "only the real-time layer's own listener is left");
  });
});
