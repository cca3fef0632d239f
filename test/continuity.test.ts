import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { WebSocket } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import { memoryBroker, PER_USER_LIMIT_CODE, type SwitchboardOptions, switchboard } from '../src/index.js';
import { startClusterNode } from './cluster-node.js';
import { closed, closeServer, delay, eventually, failure, listen } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';

type Frame = {
  sb?: string;
  room?: string;
  offset?: number;
  epoch?: string;
  data?: unknown;
  reason?: string;
  [key: string]: unknown;
};

/**
 * A client of a recovering route, written from the README's wire format alone: it keeps the
 * position of every room it hears of and resumes with them (`sb_resume`) when it connects again.
 */
class RecoveringClient {
  readonly frames: Frame[] = [];
  readonly positions = new Map<string, [number, string]>();
  ws: WebSocket | undefined;

  constructor(private readonly url: string) {}

  async connect(url = this.url): Promise<void> {
    const target = new URL(url);
    if (this.positions.size > 0) {
      target.searchParams.set('sb_resume', Buffer.from(JSON.stringify(Object.fromEntries(this.positions))).toString('base64url'));
    }
    const ws = new WebSocket(target);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      if ((frame.sb === 'pos' || frame.sb === 'msg') && frame.room)
        this.positions.set(frame.room, [frame.offset ?? 0, frame.epoch ?? '']);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.ws = ws;
  }

  /** The data of the room messages heard in `room`, in order of arrival. */
  heard(room: string): unknown[] {
    return this.frames.filter((frame) => frame.sb === 'msg' && frame.room === room).map((frame) => frame.data);
  }

  of(kind: string): Frame[] {
    return this.frames.filter((frame) => frame.sb === kind);
  }
}

async function start(options: SwitchboardOptions = { history: { size: 100, ttlMs: 60_000 } }) {
  const server = http.createServer();
  const hub = switchboard(server, options);
  const wss = hub.ws('/live', {}, { recover: true });
  // The app puts every connection in the room its query names (or 'news'), as apps do on connect.
  wss.on('connection', (ws, req) => {
    const room = new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? 'news';
    hub.join(ws, room);
  });
  const { url } = await listen(server);
  return { server, hub, wss, url: `${url}/live`, stop: () => closeServer(server) };
}

describe('continuity: rooms as streams with positions', () => {
  const servers: { stop: () => Promise<void> }[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });

  it('says hello first, tells the position on join, and sends room messages with their offsets', async () => {
    const app = await start();
    servers.push(app);
    app.hub.publish('news', 'before anyone came');
    const client = new RecoveringClient(app.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    assert.deepEqual(client.frames[0], { sb: 'hello', recover: true });
    assert.equal(client.of('pos')[0]?.offset, 1);
    app.hub.publish('news', { headline: 'one' });
    app.hub.publish('news', 'two');
    app.hub.publish('news', Buffer.from([1, 2, 3]));
    await eventually(() => client.heard('news').length === 3);
    assert.deepEqual(client.heard('news'), [{ headline: 'one' }, 'two', 'AQID']);
    assert.deepEqual(
      client.of('msg').map((frame) => frame.offset),
      [2, 3, 4],
    );
    assert.equal(client.of('msg')[2]?.encoding, 'base64');
    client.ws?.close();
  });

  it('after a drop, replays exactly what was missed, once and in order, before anything newer', async () => {
    const app = await start();
    servers.push(app);
    const client = new RecoveringClient(app.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    app.hub.publish('news', '1');
    app.hub.publish('news', '2');
    await eventually(() => client.heard('news').length === 2);
    // The server drops the connection while messages keep coming.
    for (const ws of app.wss.clients) ws.terminate();
    await closed(client.ws as WebSocket);
    app.hub.publish('news', '3');
    app.hub.publish('news', '4');
    await client.connect();
    app.hub.publish('news', '5');
    await eventually(() => client.heard('news').length === 5);
    assert.deepEqual(client.heard('news'), ['1', '2', '3', '4', '5']);
    assert.equal(client.of('gap').length, 0);
    const second = client.frames.slice(client.frames.findIndex((frame, index) => index > 0 && frame.sb === 'hello'));
    assert.deepEqual(
      second.map((frame) => frame.sb),
      ['hello', 'msg', 'msg', 'pos', 'msg'],
      'replay, then the position, then live',
    );
    client.ws?.close();
  });

  it('an idle connection recovers: nothing missed, no gap', async () => {
    const app = await start();
    servers.push(app);
    const client = new RecoveringClient(app.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    client.ws?.terminate();
    await client.connect();
    await eventually(() => client.of('pos').length === 2);
    assert.equal(client.of('gap').length, 0);
    app.hub.publish('news', 'after');
    await eventually(() => client.heard('news').length === 1);
    client.ws?.close();
  });

  it('a gap longer than the history replays nothing of it and says so', async () => {
    const app = await start({ history: { size: 3, ttlMs: 60_000 } });
    servers.push(app);
    const client = new RecoveringClient(app.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    client.ws?.terminate();
    for (let n = 1; n <= 5; n++) app.hub.publish('news', String(n));
    await client.connect();
    await eventually(() => client.of('pos').length === 2);
    assert.deepEqual(client.of('gap'), [{ sb: 'gap', room: 'news', reason: 'expired' }]);
    assert.deepEqual(client.heard('news'), [], 'nothing partial');
    assert.equal(client.of('pos')[1]?.offset, 5);
    client.ws?.close();
  });

  it('recovers user emits (the user room) like any room', async () => {
    const server = http.createServer();
    const hub = switchboard(server, { history: { size: 100, ttlMs: 60_000 } });
    hub.ws('/live', {}, { recover: true, authenticate: () => ({ userId: 'ann' }) });
    const { url } = await listen(server);
    servers.push({ stop: () => closeServer(server) });
    const client = new RecoveringClient(`${url}/live`);
    await client.connect();
    await eventually(() => client.of('pos').some((frame) => frame.room === 'user:ann'));
    hub.toUser('ann').emit('invoice', { id: 1 });
    await eventually(() => client.heard('user:ann').length === 1);
    client.ws?.terminate();
    hub.toUser('ann').emit('invoice', { id: 2 });
    await client.connect();
    await eventually(() => client.heard('user:ann').length === 2);
    assert.deepEqual(client.heard('user:ann'), [
      { event: 'invoice', data: { id: 1 } },
      { event: 'invoice', data: { id: 2 } },
    ]);
    client.ws?.close();
  });

  it('across two hubs of one broker: published on A while away, recovered on B', async () => {
    const broker = memoryBroker();
    const a = await start({ broker, history: { size: 100, ttlMs: 60_000 } });
    const b = await start({ broker, history: { size: 100, ttlMs: 60_000 } });
    servers.push(a, b);
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    a.hub.publish('news', 'on A');
    await eventually(() => client.heard('news').length === 1);
    client.ws?.terminate();
    a.hub.publish('news', 'while away');
    await client.connect(b.url);
    b.hub.publish('news', 'on B');
    await eventually(() => client.heard('news').length === 3);
    assert.deepEqual(client.heard('news'), ['on A', 'while away', 'on B']);
    client.ws?.close();
  });

  it('a restarted process (a new memory broker) has a new epoch: a gap, nothing replayed', async () => {
    const first = await start();
    const client = new RecoveringClient(first.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    first.hub.publish('news', 'old');
    await eventually(() => client.heard('news').length === 1);
    client.ws?.terminate();
    await first.stop();
    const second = await start();
    servers.push(second);
    second.hub.publish('news', 'new life');
    await client.connect(second.url);
    await eventually(() => client.of('gap').length === 1);
    assert.equal(client.of('gap')[0]?.reason, 'epoch');
    assert.deepEqual(client.heard('news'), ['old']);
    client.ws?.close();
  });

  it('a route without recover on the same hub gets the plain frames it always had', async () => {
    const server = http.createServer();
    const hub = switchboard(server, { history: { size: 10, ttlMs: 60_000 } });
    hub.ws('/plain').on('connection', (ws) => hub.join(ws, 'news'));
    const { url } = await listen(server);
    servers.push({ stop: () => closeServer(server) });
    const ws = new WebSocket(`${url}/plain`);
    const heard: string[] = [];
    ws.on('message', (data) => heard.push(data.toString()));
    await new Promise((resolve) => ws.once('open', resolve));
    await eventually(() => hub.realtime.rooms.in('news').size === 1);
    hub.publish('news', { a: 1 });
    hub.publish('news', 'text');
    await eventually(() => heard.length === 2);
    assert.deepEqual(heard, ['{"a":1}', 'text']);
    ws.close();
  });

  it('an unreadable resume is answered with an error frame, and the connection goes on', async () => {
    const app = await start();
    servers.push(app);
    const ws = new WebSocket(`${app.url}?sb_resume=not-json`);
    const frames: Frame[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await eventually(() => frames.some((frame) => frame.sb === 'pos'));
    assert.equal(frames.find((frame) => frame.sb === 'error')?.code, 'ERR_RESUME_INVALID');
    const long = new WebSocket(`${app.url}?sb_resume=${'A'.repeat(9_000)}`);
    const longFrames: Frame[] = [];
    long.on('message', (data) => longFrames.push(JSON.parse(data.toString())));
    await eventually(() => longFrames.some((frame) => frame.sb === 'error'));
    assert.match(String(longFrames.find((frame) => frame.sb === 'error')?.message), /longer than 8192/);
    ws.close();
    long.close();
  });

  it('refuses what cannot work, saying what to do', () => {
    const hub = switchboard(http.createServer());
    assert.match(failure(() => hub.ws('/live', {}, { recover: true })).message, /keeps no history.*history: \{ size, ttlMs \}/);
    const withHistory = switchboard(http.createServer(), { history: { size: 10, ttlMs: 1_000 } });
    assert.match(failure(() => withHistory.handle('/raw', () => {}, { recover: true })).message, /recover is for ws routes/);
    assert.match(
      failure(() => withHistory.ws('/x', {}, { recover: 'yes' as unknown as boolean })).message,
      /recover must be true or false/,
    );
    for (const history of [{ size: 0, ttlMs: 1 }, { size: 10 }, { size: 10, ttlMs: 1, max: 3 }, 'lots']) {
      assert.match(
        failure(() => switchboard(http.createServer(), { history } as unknown as SwitchboardOptions)).message,
        /history.*size: messages per room >= 1, ttlMs: milliseconds > 0/,
      );
    }
    const broker = memoryBroker();
    switchboard(http.createServer(), { broker, history: { size: 10, ttlMs: 1_000 } });
    assert.match(
      failure(() => switchboard(http.createServer(), { broker, history: { size: 20, ttlMs: 1_000 } })).message,
      /share its history/,
    );
  });

  it('never loses, duplicates or reorders a message, whatever the interleaving of publishes, drops and reconnects', async () => {
    const app = await start({ history: { size: 1_000, ttlMs: 60_000 } });
    servers.push(app);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('publish', 'publish', 'drop', 'reconnect'), { minLength: 1, maxLength: 30 }),
        async (steps) => {
          const room = `fuzz-${Math.random().toString(36).slice(2)}`;
          const client = new RecoveringClient(`${app.url}?room=${room}`);
          await client.connect();
          await eventually(() => client.of('pos').length === 1);
          let published = 0;
          let up = true;
          for (const step of steps) {
            if (step === 'publish') app.hub.publish(room, String(++published));
            else if (step === 'drop' && up) {
              client.ws?.terminate();
              await closed(client.ws as WebSocket);
              up = false;
            } else if (step === 'reconnect' && !up) {
              await client.connect(`${app.url}?room=${room}`);
              up = true;
            }
          }
          if (!up) await client.connect(`${app.url}?room=${room}`);
          await eventually(() => client.heard(room).length >= published);
          assert.deepEqual(
            client.heard(room),
            Array.from({ length: published }, (_, index) => String(index + 1)),
          );
          client.ws?.close();
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('acknowledged requests: hub.onRequest', () => {
  it('answers, refuses with the code of the error, says when nothing handles an event, and runs a resent request once', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server, { history: { size: 10, ttlMs: 60_000 } });
    let runs = 0;
    let release: (() => void) | undefined;
    hub.ws('/live', {}, { recover: true }).on('connection', (ws) => {
      hub.onRequest(ws, 'order:create', async (data) => {
        runs++;
        // Slow enough that the client drops before the answer.
        if ((data as { slow?: boolean }).slow) await new Promise<void>((resolve) => (release = resolve));
        return { ok: true, sku: (data as { sku: number }).sku };
      });
      hub.onRequest(ws, 'order:cancel', () => {
        throw Object.assign(new Error('too late to cancel'), { code: 'ERR_TOO_LATE' });
      });
    });
    const { url } = await listen(server);
    t.after(() => closeServer(server));
    const ask = (ws: WebSocket, frame: object) =>
      new Promise<Frame>((resolve) => {
        const onMessage = (data: Buffer) => {
          const answer = JSON.parse(data.toString()) as Frame;
          if (answer.sb === 'res' || answer.sb === 'error') {
            ws.off('message', onMessage);
            resolve(answer);
          }
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify(frame));
      });
    const first = new WebSocket(`${url}/live`);
    await new Promise((resolve) => first.once('open', resolve));
    assert.deepEqual(await ask(first, { sb: 'req', id: 'r1', event: 'order:create', data: { sku: 42 } }), {
      sb: 'res',
      id: 'r1',
      data: { ok: true, sku: 42 },
    });
    assert.deepEqual(await ask(first, { sb: 'req', id: 'r2', event: 'order:cancel', data: {} }), {
      sb: 'res',
      id: 'r2',
      error: { code: 'ERR_TOO_LATE', message: 'too late to cancel' },
    });
    const none = await ask(first, { sb: 'req', id: 'r3', event: 'nobody', data: {} });
    assert.equal((none.error as { code: string }).code, 'ERR_NO_HANDLER');
    const bad = await ask(first, { sb: 'req', event: 'order:create' });
    assert.equal(bad.code, 'ERR_BAD_REQUEST');

    // The connection dies after the handler started; the client sends the same id again.
    first.send(JSON.stringify({ sb: 'req', id: 'r4', event: 'order:create', data: { sku: 7, slow: true } }));
    await eventually(() => release !== undefined);
    first.terminate();
    const second = new WebSocket(`${url}/live`);
    await new Promise((resolve) => second.once('open', resolve));
    const answered = ask(second, { sb: 'req', id: 'r4', event: 'order:create', data: { sku: 7, slow: true } });
    release?.();
    assert.deepEqual(await answered, { sb: 'res', id: 'r4', data: { ok: true, sku: 7 } });
    assert.equal(runs, 2, 'r1 once and r4 once');
    second.close();
  });
});

describe("Socket.IO's own recovery through the hub", () => {
  it('connectionStateRecovery restores a dropped session with the user emits it missed', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const io = hub.socketio(new Server({ path: '/socket.io', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } }), {
      authenticate: () => ({ userId: 'ann' }),
    });
    const serverSockets: ServerSocket[] = [];
    io.on('connection', (socket) => serverSockets.push(socket));
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const client = await connectIo(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 50,
    });
    t.after(() => client.close());
    const heard: unknown[] = [];
    client.on('invoice', (data: unknown) => heard.push(data));
    hub.toUser('ann').emit('invoice', 1);
    await eventually(() => heard.length === 1);
    // The transport drops (not a server disconnect), and the user gets an emit meanwhile.
    serverSockets[0]?.conn.close();
    await eventually(() => !client.connected);
    hub.toUser('ann').emit('invoice', 2);
    await eventually(() => client.connected && heard.length === 2);
    assert.equal(client.recovered, true);
    assert.deepEqual(heard, [1, 2]);
  });
});

/**
 * A hub whose Socket.IO server restores dropped sessions, with a per-user limit of one, the user
 * taken from `?user=`; each socket joins 'board' and is sent 'welcome' (a session is restored from
 * the last packet the client got: there must be one).
 */
async function restoringHub(t: TestContext) {
  const server = http.createServer();
  const hub = switchboard(server);
  const io = hub.socketio(new Server({ path: '/socket.io', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } }), {
    authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anon' }),
    perUser: { max: 1 },
  });
  const serverSockets: ServerSocket[] = [];
  io.on('connection', (socket) => {
    serverSockets.push(socket);
    socket.join('board');
    socket.emit('welcome');
  });
  const { port } = await listen(server);
  t.after(async () => {
    await hub.close({ timeoutMs: 100 });
    await closeServer(server);
  });
  return { hub, serverSockets, base: `http://127.0.0.1:${port}` };
}

describe('a session Socket.IO restores without running the middlewares (skipMiddlewares, its default)', () => {
  it('keeps its presence and counts against the per-user limit', async (t) => {
    const { hub, serverSockets, base } = await restoringHub(t);
    const client = await connectIo(base, {
      query: { user: 'ann' },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 50,
    });
    t.after(() => client.close());
    await nextEvent(client, 'welcome');
    await eventually(async () => (await hub.presenceCount('board')) === 1);
    // The transport drops; Socket.IO restores the session, rooms and data, without the middlewares.
    serverSockets[0]?.conn.close();
    await eventually(() => !client.connected);
    await eventually(() => client.connected);
    assert.equal(client.recovered, true);
    await eventually(async () => (await hub.presenceCount('board')) === 1, 2_000, 'ann in the room again');
    assert.deepEqual(
      (await hub.presence('board')).map((member) => member.userId),
      ['ann'],
    );
    assert.equal(await hub.presenceCount('user:ann'), 1);
    // The restored session is ann's one connection: a second one is over the limit.
    const second = connectIo(base, { query: { user: 'ann' }, transports: ['websocket'], reconnection: false });
    await assert.rejects(second, /too many connections for this user/);
    client.close();
    await eventually(async () => (await hub.presenceCount('board')) === 0, 2_000, 'ann gone');
  });
});

describe('a restored session over the per-user limit', () => {
  it('is refused with a connect_error that says why, and does not reconnect', async (t) => {
    const { serverSockets, base } = await restoringHub(t);
    // Reconnection on, but not before the second connection has taken bo's one place.
    const first = await connectIo(base, {
      query: { user: 'bo' },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 300,
      randomizationFactor: 0,
    });
    t.after(() => first.close());
    await nextEvent(first, 'welcome');
    const refused = new Promise<Error & { data?: { code: string } }>((resolve, reject) => {
      first.once('connect_error', resolve);
      setTimeout(() => reject(new Error('the restored session was not refused')), 5_000).unref();
    });
    serverSockets[0]?.conn.close();
    await eventually(() => !first.connected);
    const second = await connectIo(base, { query: { user: 'bo' }, transports: ['websocket'] });
    t.after(() => second.close());
    const why = await refused;
    assert.match(why.message, /too many connections for this user/);
    assert.equal(why.data?.code, PER_USER_LIMIT_CODE);
    await eventually(() => !first.connected && !first.active, 2_000, 'the first session closed for good');
    assert.equal(second.connected, true);
  });
});

describe('continuity on Redis: room streams shared by every node', () => {
  const REDIS = 'redis://127.0.0.1:6379';
  const hubs: { stop: () => Promise<void> }[] = [];
  after(async () => {
    for (const hub of hubs) await hub.stop();
  });

  /** A hub with its own Redis connections, as another process would have, on a prefix of the test's. */
  async function redisHub(prefix: string, history = { size: 100, ttlMs: 60_000 }) {
    const server = http.createServer();
    const hub = switchboard(server, { broker: redisBroker({ url: REDIS, prefix }), history });
    hub
      .ws('/live', {}, { recover: true, authenticate: () => ({ userId: 'ann' }) })
      .on('connection', (ws) => hub.join(ws, 'news'));
    await hub.ready();
    const { url } = await listen(server);
    const stop = async () => {
      await hub.close({ timeoutMs: 200 });
      await closeServer(server);
    };
    hubs.push({ stop });
    return { hub, url: `${url}/live`, stop };
  }

  it('published on A while the client was away, recovered on B, in order, once; user emits too', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const a = await redisHub(prefix);
    const b = await redisHub(prefix);
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 2, 5_000, 'positions of news and user:ann');
    a.hub.publish('news', 'on A');
    b.hub.publish('news', 'on B, heard through A');
    await eventually(() => client.heard('news').length === 2);
    client.ws?.terminate();
    for (let n = 1; n <= 20; n++) a.hub.publish('news', `away ${n}`);
    a.hub.toUser('ann').emit('invoice', { id: 7 });
    await delay(100);
    await client.connect(b.url);
    b.hub.publish('news', 'live on B');
    await eventually(() => client.heard('news').length === 23);
    assert.deepEqual(client.heard('news'), [
      'on A',
      'on B, heard through A',
      ...Array.from({ length: 20 }, (_, index) => `away ${index + 1}`),
      'live on B',
    ]);
    await eventually(() => client.heard('user:ann').length === 1);
    assert.deepEqual(client.heard('user:ann'), [{ event: 'invoice', data: { id: 7 } }]);
    assert.equal(client.of('gap').length, 0);
    client.ws?.close();
  });

  it('live messages published while the replay is read are held and merged, never overtaking or repeating', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const a = await redisHub(prefix, { size: 5_000, ttlMs: 60_000 });
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 2);
    client.ws?.terminate();
    for (let n = 1; n <= 500; n++) a.hub.publish('news', String(n));
    await delay(100);
    const connecting = client.connect();
    // Published while the reconnect and its read are under way.
    let next = 501;
    const during = setInterval(() => {
      if (next <= 700) a.hub.publish('news', String(next++));
    }, 1);
    await connecting;
    await eventually(() => next > 700);
    clearInterval(during);
    await eventually(() => client.heard('news').length >= 700);
    await delay(100);
    assert.deepEqual(
      client.heard('news'),
      Array.from({ length: 700 }, (_, index) => String(index + 1)),
    );
    client.ws?.close();
  });

  it('a message still on its way to Redis when the replay is read is held, then sent once, after the replay', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const server = http.createServer();
    const hub = switchboard(server, { broker: redisBroker({ url: REDIS, prefix }), history: { size: 100, ttlMs: 60_000 } });
    // Published just before the join: its append is in flight when the join's read goes out, so
    // the read includes it and its live delivery comes while the read is pending.
    hub.ws('/live', {}, { recover: true }).on('connection', (ws) => {
      hub.publish('news', 'racing the replay');
      hub.join(ws, 'news');
    });
    await hub.ready();
    const { url } = await listen(server);
    hubs.push({ stop: () => hub.close({ timeoutMs: 200 }).then(() => closeServer(server)) });
    const client = new RecoveringClient(`${url}/live`);
    await client.connect();
    await eventually(() => client.heard('news').length === 1);
    client.ws?.terminate();
    hub.publish('news', 'while away');
    await delay(50);
    await client.connect();
    await eventually(() => client.heard('news').length >= 3);
    await delay(100);
    assert.deepEqual(client.heard('news'), ['racing the replay', 'while away', 'racing the replay']);
    const second = client.frames.slice(client.frames.findLastIndex((frame) => frame.sb === 'hello'));
    assert.deepEqual(
      second.map((frame) => frame.sb),
      ['hello', 'msg', 'msg', 'pos'],
      'the replay holds both, in order, then the position; nothing twice',
    );
    client.ws?.close();
  });

  it('a gap older than the history replays nothing and says so', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const a = await redisHub(prefix, { size: 3, ttlMs: 60_000 });
    const client = new RecoveringClient(a.url);
    await client.connect();
    await eventually(() => client.of('pos').length === 2);
    client.ws?.terminate();
    for (let n = 1; n <= 5; n++) a.hub.publish('news', String(n));
    await delay(100);
    await client.connect();
    await eventually(() => client.of('gap').length === 1);
    assert.equal(client.of('gap')[0]?.reason, 'expired');
    assert.deepEqual(client.heard('news'), []);
    client.ws?.close();
  });

  it('a request resent to another node after a drop runs its handler once in the cluster, and the answer arrives', async () => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    let runs = 0;
    let release: (() => void) | undefined;
    const node = async () => {
      const server = http.createServer();
      const hub = switchboard(server, { broker: redisBroker({ url: REDIS, prefix }), history: { size: 10, ttlMs: 60_000 } });
      hub.ws('/live', {}, { recover: true, authenticate: () => ({ userId: 'ann' }) }).on('connection', (ws) => {
        hub.onRequest(ws, 'pay', async () => {
          runs++;
          await new Promise<void>((resolve) => (release = resolve));
          return { paid: true };
        });
      });
      await hub.ready();
      const { url } = await listen(server);
      hubs.push({ stop: () => hub.close({ timeoutMs: 200 }).then(() => closeServer(server)) });
      return `${url}/live`;
    };
    const [a, b] = [await node(), await node()];
    const request = JSON.stringify({ sb: 'req', id: 'pay-1', event: 'pay', data: {} });
    const first = new WebSocket(a);
    await new Promise((resolve) => first.once('open', resolve));
    first.send(request);
    await eventually(() => release !== undefined);
    first.terminate();
    const second = new WebSocket(b);
    const answers: Frame[] = [];
    second.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.sb === 'res') answers.push(frame);
    });
    await new Promise((resolve) => second.once('open', resolve));
    second.send(request);
    await delay(150);
    assert.equal(runs, 1, 'B waits for the run on A instead of running it again');
    release?.();
    await eventually(() => answers.length === 1);
    assert.deepEqual(answers[0], { sb: 'res', id: 'pay-1', data: { paid: true } });
    assert.equal(runs, 1);
    second.close();
  });

  it('a node killed with SIGKILL: its client recovers on the other node what was published meanwhile', async () => {
    const env = { REDIS_URL: REDIS, PREFIX: `sb-test-${Math.random().toString(36).slice(2)}`, HISTORY: '1' };
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    hubs.push(a, b);
    const client = new RecoveringClient(`${a.ws}/recover?room=orders`);
    await client.connect();
    await eventually(() => client.of('pos').length === 1);
    await a.do('publish', { room: 'orders', data: 'before' });
    await eventually(() => client.heard('orders').length === 1);
    await a.stop();
    await closed(client.ws as WebSocket);
    await b.do('publish', { room: 'orders', data: 'while A was dead' });
    await client.connect(`${b.ws}/recover?room=orders`);
    await eventually(() => client.heard('orders').length === 2);
    assert.deepEqual(client.heard('orders'), ['before', 'while A was dead']);
    client.ws?.close();
  });
});

describe("Socket.IO's own recovery across nodes (the Redis Streams adapter)", () => {
  it('a session dropped on A is restored on B, with the user emit published meanwhile', async (t) => {
    const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
    const node = async () => {
      const server = http.createServer();
      const hub = switchboard(server, { broker: redisBroker({ url: 'redis://127.0.0.1:6379', prefix }) });
      const io = hub.socketio(new Server({ path: '/socket.io', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } }), {
        authenticate: () => ({ userId: 'ann' }),
      });
      await hub.ready();
      const { port } = await listen(server);
      t.after(async () => {
        await hub.close({ timeoutMs: 200 });
        await closeServer(server);
      });
      return { hub, io, port };
    };
    const a = await node();
    const b = await node();
    const client = await connectIo(`http://127.0.0.1:${a.port}`, { transports: ['websocket'] });
    t.after(() => client.close());
    const heard: unknown[] = [];
    client.on('invoice', (data: unknown) => heard.push(data));
    a.hub.toUser('ann').emit('invoice', 1);
    await eventually(() => heard.length === 1);
    // The client goes to B (a load balancer moved it) after a transport drop; A emits meanwhile.
    const manager = (client as unknown as { io: { uri: string; opts: { reconnection: boolean } } }).io;
    for (const socket of a.io.sockets.sockets.values()) socket.conn.close();
    await eventually(() => !client.connected);
    a.hub.toUser('ann').emit('invoice', 2);
    await delay(100);
    manager.uri = `http://127.0.0.1:${b.port}`;
    client.connect();
    await eventually(() => client.connected && heard.length === 2, 5_000, 'restored on B with the missed emit');
    assert.equal(client.recovered, true);
    assert.deepEqual(heard, [1, 2]);
  });
});
