import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { memoryBroker, type SwitchboardOptions, switchboard } from '../src/index.js';
import { type Frame, RecoveringClient } from './continuity-helpers.js';
import { closed, closeServer, eventually, failure, listen } from './helpers.js';

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
