import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  REPLACED_CLOSE_CODE as CLIENT_REPLACED,
  ClientError,
  connect,
  DEFAULT_STOP_CODES,
  openConnections,
} from '../src/client/index.js';
import { DO_NOT_RECONNECT_CODES, REPLACED_CLOSE_CODE } from '../src/index.js';
import { reach, startServer } from './fixtures/client/servers.js';
import { delay, eventually } from './helpers.js';

describe('switchboard/client: one shared connection per URL', () => {
  it('gives ten callers the same connection, over one socket, and every subscriber hears every message', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const url = `${srv.url}/echo`;
    const errors: unknown[] = [];
    const options = { onError: (error: unknown) => errors.push(error) };
    const holders = Array.from({ length: 10 }, () => connect(url, options));
    const conn = holders[0]!;
    for (const each of holders) assert.equal(each, conn);
    assert.equal(conn.holders, 10);
    await reach(conn, 'open');
    assert.equal(srv.connections(), 1);

    const heard: string[][] = holders.map(() => []);
    holders.forEach((each, index) => {
      if (index === 3) {
        each.subscribe(() => {
          throw new Error('a broken component');
        });
      }
      each.subscribe((data) => heard[index]!.push(String(data)));
    });
    const events: unknown[] = [];
    const off = conn.on<{ n: number }>('tick', (data) => events.push(data));
    conn.send('echo:hello');
    for (const ws of srv.sockets) ws.send(JSON.stringify({ event: 'tick', data: { n: 1 } }));
    await eventually(() => heard.every((list) => list.length === 2), 5_000, 'both messages in every subscriber');
    for (const list of heard) assert.deepEqual(list.sort(), ['hello', '{"event":"tick","data":{"n":1}}'].sort());
    assert.deepEqual(events, [{ n: 1 }]);
    assert.equal(errors.length, 2, 'the throwing subscriber is reported for each message');

    off();
    for (const ws of srv.sockets) ws.send(JSON.stringify({ event: 'tick', data: { n: 2 } }));
    await eventually(() => heard[0]!.length === 3);
    assert.deepEqual(events, [{ n: 1 }], 'no event after unsubscribing');

    for (const each of holders.slice(1)) each.release();
    await delay(20);
    assert.equal(conn.state.status, 'open', 'still held by one caller');
    conn.release();
    await reach(conn, 'closed');
    await eventually(() => srv.connections() === 0, 5_000, 'the server to see the close');
    assert.equal(conn.state.lastCloseCode, 1000);
    assert.ok(!openConnections().includes(conn.key));
    const again = connect(url, options);
    assert.notEqual(again, conn, 'a new connection after the last release');
    again.release();
  });

  it('refuses a second caller with other options, naming the difference', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const url = `${srv.url}/echo`;
    const conn = connect(url, { reconnect: { maxDelayMs: 1_000 } });
    t.after(() => conn.close());
    assert.throws(
      () => connect(url, { reconnect: { maxDelayMs: 2_000 } }),
      (error: unknown) =>
        error instanceof ClientError &&
        error.code === 'ERR_CLIENT_OPTIONS' &&
        /reconnect\.maxDelayMs: 1000 vs 2000/.test(error.message),
    );
    assert.equal(connect(url, { reconnect: { maxDelayMs: 1_000 } }), conn, 'equal options in another object are the same');
    assert.throws(() => connect(async () => url), /needs a `key`/);
  });

  it('keeps one socket when the last holder releases and another connects in the same task (StrictMode)', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const url = `${srv.url}/echo`;
    for (let cycle = 0; cycle < 5; cycle++) {
      const first = connect(url);
      first.release();
      const second = connect(url);
      assert.equal(second, first);
      await reach(second, 'open');
      second.release();
      await reach(second, 'closed');
    }
    await eventually(() => srv.connections() === 0);
    assert.equal(srv.hub.stats().accepted, 5, 'one socket per mount cycle');
  });

  it('sends at once when open and in order after a reconnect, having queued while down', async (t) => {
    let srv = await startServer();
    const port = srv.port;
    t.after(() => srv.stop());
    const conn = connect(`${srv.url}/echo`, { reconnect: { baseDelayMs: 20, maxDelayMs: 100 } });
    t.after(() => conn.close());
    conn.send('early-1');
    conn.send('early-2');
    assert.equal(conn.state.status, 'connecting');
    await reach(conn, 'open');
    conn.send('open-1');
    await eventually(() => srv.received.length === 3);
    assert.deepEqual(srv.received, ['early-1', 'early-2', 'open-1']);

    await srv.stop();
    await reach(conn, 'reconnecting');
    for (let i = 1; i <= 50; i++) assert.equal(conn.send(`queued-${i}`), true);
    await delay(150);
    srv = await startServer(port);
    await reach(conn, 'open');
    await eventually(() => srv.received.length === 50, 5_000, 'the 50 queued messages');
    assert.deepEqual(
      srv.received,
      Array.from({ length: 50 }, (_, i) => `queued-${i + 1}`),
    );
  });

  it('bounds the queue: drop-oldest keeps the newest, drop-newest keeps the first, throw throws', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const dropped: unknown[] = [];
    const oldest = connect(`${srv.url}/echo?q=oldest`, { queue: { max: 3, onDrop: (data) => dropped.push(data) } });
    const newest = connect(`${srv.url}/echo?q=newest`, { queue: { max: 3, overflow: 'drop-newest' } });
    const strict = connect(`${srv.url}/echo?q=throw`, { queue: { max: 1, overflow: 'throw' } });
    t.after(() => {
      for (const each of [oldest, newest, strict]) each.close();
    });
    for (let i = 1; i <= 5; i++) assert.equal(oldest.send(`o${i}`), true);
    const kept = [1, 2, 3, 4, 5].map((i) => newest.send(`n${i}`));
    assert.deepEqual(kept, [true, true, true, false, false]);
    strict.send('s1');
    assert.throws(
      () => strict.send('s2'),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_QUEUE_FULL',
    );
    assert.deepEqual(dropped, ['o1', 'o2']);
    await Promise.all([reach(oldest, 'open'), reach(newest, 'open'), reach(strict, 'open')]);
    await eventually(() => srv.received.length === 7);
    assert.deepEqual(
      srv.received.filter((m) => m.startsWith('o')),
      ['o3', 'o4', 'o5'],
    );
    assert.deepEqual(
      srv.received.filter((m) => m.startsWith('n')),
      ['n1', 'n2', 'n3'],
    );
    assert.deepEqual(
      srv.received.filter((m) => m.startsWith('s')),
      ['s1'],
    );
  });

  it('never reconnects after the app closes it, and refuses sends then', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const conn = connect(`${srv.url}/echo`, { reconnect: { baseDelayMs: 10, maxDelayMs: 20 } });
    await reach(conn, 'open');
    conn.release();
    await reach(conn, 'closed');
    await delay(200);
    assert.equal(srv.hub.stats().upgrades, 1);
    assert.throws(
      () => conn.send('late'),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_CONNECTION_CLOSED',
    );
  });

  it('connects with the constructor it is given', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    let made = 0;
    class Counted extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        made += 1;
      }
    }
    const conn = connect(`${srv.url}/echo`, { WebSocket: Counted });
    t.after(() => conn.close());
    await reach(conn, 'open');
    assert.equal(made, 1);
  });
});

describe('switchboard/client: reconnection', () => {
  it('comes back after a server restart, each wait drawn from [0, min(max, base * 2^(n-1))]', async (t) => {
    let srv = await startServer();
    const port = srv.port;
    t.after(() => srv.stop());
    const base = 40;
    const max = 160;
    const waits: Array<{ attempt: number; drawn: number; random: number }> = [];
    let lastRandom = 0;
    const random = () => {
      lastRandom = Math.random();
      return lastRandom;
    };
    const conn = connect(`${srv.url}/echo`, { reconnect: { baseDelayMs: base, maxDelayMs: max, stableAfterMs: 100 }, random });
    t.after(() => conn.close());
    const dials: number[] = [];
    let waitingSince = 0;
    const measured: Array<{ drawn: number; elapsed: number }> = [];
    conn.onStateChange((state) => {
      if (state.status === 'reconnecting' && state.retryInMs !== undefined) {
        waits.push({ attempt: state.attempt, drawn: state.retryInMs, random: lastRandom });
        waitingSince = performance.now();
      } else if (state.status === 'reconnecting' && waitingSince) {
        measured.push({ drawn: waits.at(-1)!.drawn, elapsed: performance.now() - waitingSince });
        dials.push(state.attempt);
        waitingSince = 0;
      }
    });
    await reach(conn, 'open');
    await srv.stop();
    await eventually(() => waits.length >= 6, 10_000, 'six retries while the server is down');
    srv = await startServer(port);
    await reach(conn, 'open', 10_000);
    assert.equal(srv.connections(), 1);

    waits.forEach(({ attempt, drawn, random: r }, index) => {
      assert.equal(attempt, index + 1, 'attempts count up');
      const ceiling = Math.min(max, base * 2 ** (attempt - 1));
      assert.ok(drawn >= 0 && drawn <= ceiling, `wait ${drawn} of retry ${attempt} within [0, ${ceiling}]`);
      assert.equal(drawn, Math.floor(r * ceiling), 'full jitter: the random draw times the ceiling');
    });
    assert.ok(new Set(waits.map((w) => w.drawn)).size > 1, 'jittered, not one fixed delay');
    for (const { drawn, elapsed } of measured) {
      // Timers never fire early (1 ms of clock rounding allowed); the upper slack is generous for a loaded machine.
      assert.ok(elapsed >= drawn - 1, `waited ${elapsed.toFixed(1)} ms for a drawn ${drawn} ms`);
      assert.ok(elapsed <= max + 2_000, `waited ${elapsed.toFixed(1)} ms, far beyond the ceiling`);
    }

    await eventually(() => conn.state.attempt === 0, 5_000, 'the retry count to reset after a stable connection');
  });

  it('gives up after maxAttempts with the state saying so', async (t) => {
    const srv = await startServer();
    const url = `${srv.url}/echo`;
    await srv.stop();
    const conn = connect(url, { reconnect: { baseDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 } });
    t.after(() => conn.close());
    const attempts: number[] = [];
    conn.onStateChange((state) => {
      if (state.retryInMs !== undefined) attempts.push(state.attempt);
    });
    await reach(conn, 'closed');
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal(conn.state.lastCloseCode, 1006);
  });

  it('does not come back when the per-user policy replaced it (close code 4001), and can be told to', async (t) => {
    assert.equal(CLIENT_REPLACED, REPLACED_CLOSE_CODE, 'the client knows the server’s code');
    assert.deepEqual(DEFAULT_STOP_CODES, DO_NOT_RECONNECT_CODES, 'and every code after which the server says not to come back');
    const srv = await startServer();
    t.after(srv.stop);
    srv.hub.ws(
      '/live',
      {},
      {
        authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '' }),
        perUser: { max: 1, onExceed: 'replace-oldest' },
      },
    );
    const reconnect = { baseDelayMs: 5, maxDelayMs: 20 };
    const first = connect(`${srv.url}/live`, { key: 'tab-1', auth: 'alice', reconnect });
    t.after(() => first.close());
    await reach(first, 'open');
    const second = connect(`${srv.url}/live`, { key: 'tab-2', auth: 'alice', reconnect });
    t.after(() => second.close());
    await reach(second, 'open');
    await reach(first, 'closed');
    assert.equal(first.state.lastCloseCode, 4001);
    assert.match(first.state.lastCloseReason ?? '', /replaced/);
    await delay(300);
    assert.equal(srv.hub.stats().upgrades, 2, 'no reconnect loop between the two');
    assert.equal(second.state.status, 'open');
    assert.equal(srv.connections('/live'), 1);

    first.reconnect();
    await reach(first, 'open');
    await reach(second, 'closed');
    assert.equal(second.state.lastCloseCode, 4001);
  });

  it('asks for the URL and the token again before every attempt, so an expired token is replaced instead of looping on 401', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const valid = new Set(['token-1']);
    const privateRoute = srv.hub.ws(
      '/private',
      {},
      {
        authenticate: (req) => {
          const token = new URL(req.url ?? '/', 'http://x').searchParams.get('access_token');
          return token && valid.has(token) ? { token } : null;
        },
      },
    );
    privateRoute.on('connection', (ws, req) =>
      ws.send(new URL(req.url ?? '/', 'http://x').searchParams.get('access_token') ?? ''),
    );
    let issued = 1;
    let urlCalls = 0;
    const conn = connect(
      async () => {
        urlCalls += 1;
        return `${srv.url}/private`;
      },
      {
        key: 'private',
        authParam: 'access_token',
        auth: async () => `token-${issued}`,
        reconnect: { baseDelayMs: 5, maxDelayMs: 20 },
      },
    );
    t.after(() => conn.close());
    const tokens: string[] = [];
    conn.subscribe((data) => tokens.push(String(data)));
    await eventually(() => tokens.length === 1);
    // The server forgets the token and drops the connection; the app has a fresh one by then.
    valid.clear();
    issued = 2;
    valid.add('token-2');
    for (const ws of privateRoute.clients) ws.close(1012, 'restart');
    await eventually(() => tokens.length === 2);
    assert.deepEqual(tokens, ['token-1', 'token-2']);
    assert.equal(urlCalls, 2);
    assert.equal(srv.hub.stats().rejected[401] ?? 0, 0);
  });

  it('retries at once when the browser says it is back online, instead of waiting out the backoff', async (t) => {
    // Node has no window events; a stand-in EventTarget on globalThis plays the browser's.
    const events = new EventTarget();
    const realm = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
    realm.addEventListener = events.addEventListener.bind(events);
    realm.removeEventListener = events.removeEventListener.bind(events);
    t.after(() => {
      delete realm.addEventListener;
      delete realm.removeEventListener;
    });
    let srv = await startServer();
    const port = srv.port;
    t.after(() => srv.stop());
    const conn = connect(`${srv.url}/echo`, {
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      random: () => 0.999,
    });
    t.after(() => conn.close());
    await reach(conn, 'open');
    await srv.stop();
    await eventually(() => conn.state.retryInMs !== undefined);
    assert.ok((conn.state.retryInMs ?? 0) > 30_000, 'a long wait was drawn');
    srv = await startServer(port);
    events.dispatchEvent(new Event('online'));
    await reach(conn, 'open');
    assert.equal(srv.connections(), 1);
  });

  it('finds a dead connection with the heartbeat and reconnects; pongs are not delivered', async (t) => {
    const srv = await startServer();
    t.after(srv.stop);
    const heartbeat = { intervalMs: 30, timeoutMs: 60 };
    const alive = connect(`${srv.url}/echo`, { heartbeat });
    const dead = connect(`${srv.url}/silent`, { heartbeat, reconnect: { baseDelayMs: 5, maxDelayMs: 10 } });
    t.after(() => {
      alive.close();
      dead.close();
    });
    const heard: unknown[] = [];
    alive.subscribe((data) => heard.push(data));
    await reach(alive, 'open');
    await eventually(() => dead.state.lastCloseReason === 'heartbeat timeout', 5_000, 'the silent socket to be found dead');
    assert.equal(dead.state.lastCloseCode, 1006);
    await eventually(() => srv.hub.stats().accepted >= 3, 5_000, 'a new socket for the dead one');
    assert.equal(alive.state.status, 'open');
    assert.equal(alive.state.lastCloseCode, undefined, 'answered pings keep it open');
    assert.ok(srv.received.filter((m) => m === 'ping').length >= 2);
    assert.deepEqual(heard, []);
  });
});
