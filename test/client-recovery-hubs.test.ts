import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { ClientError, connect, type GapInfo } from '../src/client/index.js';
import { redisBroker } from '../src/cluster/redis.js';
import { switchboard } from '../src/index.js';
import { FAST, type Heard, open, opened } from './client-helpers.js';
import { closeServer, eventually, listen } from './helpers.js';

afterEach(() => {
  for (const conn of opened.splice(0)) conn.close();
});

describe('switchboard/client against the hub’s own recovering route', () => {
  async function hubWith(size: number) {
    const server = http.createServer();
    const hub = switchboard(server, { history: { size, ttlMs: 60_000 } });
    const wss = hub.ws('/live', {}, { recover: true });
    const runs: number[] = [];
    let release: (() => void) | undefined;
    wss.on('connection', (ws) => {
      hub.join(ws, 'prices');
      hub.onRequest(ws, 'add', (data) => (data as { a: number; b: number }).a + (data as { a: number; b: number }).b);
      // Held until the test lets it go, so that the connection can drop while it runs.
      hub.onRequest(ws, 'order:create', (data) => {
        runs.push(data as number);
        return new Promise((resolve) => {
          release = () => resolve(`order ${String(data)}`);
        });
      });
    });
    const { url } = await listen(server);
    const stop = async () => {
      await hub.close({ timeoutMs: 500 });
      if (server.listening) await closeServer(server);
    };
    return { hub, wss, url: `${url}/live`, runs, release: () => release?.(), stop };
  }

  it('gets what was published while it was away exactly once, in order, and a request answered once', async (t) => {
    const srv = await hubWith(100);
    t.after(srv.stop);
    const { conn, heard, gaps, errors } = open(srv.url);
    await eventually(() => srv.wss.clients.size === 1 && conn.state.status === 'open');
    assert.equal(await conn.request('add', { a: 1, b: 2 }), 3);
    await assert.rejects(
      conn.request('nobody'),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_NO_HANDLER',
    );
    srv.hub.publish('prices', { p: 1 });
    await eventually(() => heard.length === 1, 5_000, 'the first price');

    const order = conn.request('order:create', 42);
    await eventually(() => srv.runs.length === 1, 5_000, 'the handler to start');
    for (const ws of srv.wss.clients) ws.terminate();
    srv.hub.publish('prices', { p: 2 });
    srv.hub.publish('prices', 'three');
    await eventually(() => heard.length === 3, 5_000, 'the replay');
    srv.hub.publish('prices', { p: 4 });
    await eventually(() => heard.length === 4, 5_000, 'a live message after the replay');
    srv.release();
    assert.equal(await order, 'order 42');
    assert.deepEqual(srv.runs, [42], 'the handler ran once for the request and its resend');

    assert.deepEqual(
      heard.map((each) => each.data),
      ['{"p":1}', '{"p":2}', 'three', '{"p":4}'],
    );
    assert.deepEqual(
      heard.map((each) => each.message?.offset),
      [1, 2, 3, 4],
    );
    assert.ok(heard.every((each) => each.message?.room === 'prices'));
    assert.deepEqual(gaps, []);
    assert.deepEqual(errors, []);
  });

  it('reports a gap older than the history to onGap, delivering nothing of it', async (t) => {
    const srv = await hubWith(2);
    t.after(srv.stop);
    const { conn, heard, gaps } = open(srv.url);
    await eventually(() => srv.wss.clients.size === 1 && conn.state.status === 'open');
    srv.hub.publish('prices', 'before');
    await eventually(() => heard.length === 1);
    const states: string[] = [];
    conn.onStateChange((state) => {
      states.push(state.status);
      // Published while the client is surely away: more than the history keeps.
      if (state.status === 'reconnecting' && states.filter((each) => each === 'reconnecting').length === 1) {
        for (const n of [1, 2, 3, 4, 5]) srv.hub.publish('prices', `missed ${n}`);
      }
    });
    for (const ws of srv.wss.clients) ws.terminate();
    await eventually(() => gaps.length === 1, 5_000, 'the gap');
    assert.deepEqual(gaps, [{ room: 'prices', reason: 'expired' }]);
    srv.hub.publish('prices', 'after');
    await eventually(() => heard.length === 2, 5_000, 'a live message after the gap');
    assert.deepEqual(
      heard.map((each) => each.data),
      ['before', 'after'],
    );
  });
});

describe('switchboard/client moving between two hubs that share Redis', () => {
  it('resumes on the other node: what was published away arrives once, in order, user emits included', async (t) => {
    const prefix = `sb-client-test-${Math.random().toString(36).slice(2)}`;
    const node = async () => {
      const server = http.createServer();
      const hub = switchboard(server, {
        broker: redisBroker({ url: 'redis://127.0.0.1:6379', prefix }),
        history: { size: 100, ttlMs: 60_000 },
      });
      const wss = hub.ws('/live', {}, { recover: true, authenticate: () => ({ userId: 'ann' }) });
      wss.on('connection', (ws) => hub.join(ws, 'news'));
      await hub.ready();
      const { url } = await listen(server);
      t.after(async () => {
        await hub.close({ timeoutMs: 200 });
        if (server.listening) await closeServer(server);
      });
      return { hub, wss, url: `${url}/live` };
    };
    const a = await node();
    const b = await node();
    // The load balancer's part: the first connection lands on A, every later one on B.
    let dials = 0;
    const errors: unknown[] = [];
    const conn = connect(() => (dials++ === 0 ? a.url : b.url), {
      ...FAST,
      key: `moving-${prefix}`,
      onError: (error) => errors.push(error),
    });
    opened.push(conn);
    const heard: Heard[] = [];
    conn.subscribe((data, message) => heard.push({ data, message }));
    const invoices: unknown[] = [];
    conn.on('invoice', (data, message) => invoices.push([data, message.room]));
    const gaps: GapInfo[] = [];
    conn.onGap((gap) => gaps.push(gap));

    await eventually(() => a.wss.clients.size === 1 && conn.state.status === 'open');
    a.hub.publish('news', 'first');
    await eventually(() => heard.length === 1, 5_000, 'the first message');
    let published = false;
    conn.onStateChange((state) => {
      if (state.status !== 'reconnecting' || published) return;
      published = true;
      for (let n = 1; n <= 5; n++) a.hub.publish('news', `away ${n}`);
      a.hub.toUser('ann').emit('invoice', { id: 7 });
    });
    for (const ws of a.wss.clients) ws.terminate();
    await eventually(() => b.wss.clients.size === 1 && heard.length === 7, 10_000, 'the replay on B');
    b.hub.publish('news', 'live on B');
    await eventually(() => heard.length === 8, 5_000, 'a live message on B');
    const news = heard.filter((each) => each.message?.room === 'news');
    assert.deepEqual(
      news.map((each) => each.data),
      ['first', 'away 1', 'away 2', 'away 3', 'away 4', 'away 5', 'live on B'],
    );
    assert.deepEqual(
      news.map((each) => each.message?.offset),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(invoices, [[{ id: 7 }, 'user:ann']]);
    assert.deepEqual(gaps, []);
    assert.deepEqual(errors, []);
  });
});
