import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type ConnectOptions,
  CrossTabConnection,
  connect,
  type GapInfo,
  RESUME_PARAM,
  type SharedConnection,
} from '../src/client/index.js';

/**
 * Issue 25, client side: a loss upstream is never silent. A plain `ws` server sends hand-written
 * frames, so that skipped offsets, changed epochs and gaps without a position come exactly where
 * each test needs them.
 */
interface Seen {
  ws: WebSocket;
  resume: Record<string, [number, string]> | undefined;
}

async function wireServer(script: (conn: Seen, index: number) => void): Promise<{ url: string; seen: Seen[] }> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const seen: Seen[] = [];
  wss.on('connection', (ws, req) => {
    const raw = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get(RESUME_PARAM);
    const resume = raw === null ? undefined : (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Seen['resume']);
    const conn = { ws, resume };
    seen.push(conn);
    script(conn, seen.length - 1);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`, seen };
}

const send = (ws: WebSocket, frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
const hello = (ws: WebSocket) => send(ws, { sb: 'hello', recover: true });
const pos = (ws: WebSocket, room: string, offset: number, epoch = 'e1') => send(ws, { sb: 'pos', room, offset, epoch });
const msg = (ws: WebSocket, room: string, offset: number, data: string, epoch = 'e1') =>
  send(ws, { sb: 'msg', room, offset, epoch, data });
const gap = (ws: WebSocket, room: string, reason = 'unknown') => send(ws, { sb: 'gap', room, reason });

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const FAST: ConnectOptions = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 } };
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One log of deliveries and gaps, in the order the app saw them. */
function watch(conn: SharedConnection): { log: string[]; gaps: GapInfo[]; errors: unknown[] } {
  const log: string[] = [];
  const gaps: GapInfo[] = [];
  conn.subscribe((data, message) => log.push(message ? `${String(data)}@${message.offset}/${message.epoch}` : String(data)));
  conn.onGap((info) => {
    gaps.push(info);
    log.push(`gap ${info.room} ${info.reason}`);
  });
  return { log, gaps, errors: [] };
}

function open(url: string, options: ConnectOptions = {}) {
  const errors: unknown[] = [];
  const conn = connect(url, { ...FAST, onError: (error) => errors.push(error), ...options });
  cleanups.push(() => conn.close());
  return { conn, ...watch(conn), errors };
}

describe('switchboard/client reports every hole in a room’s stream', () => {
  it('a live message past the next offset: one gap before it, then it is delivered and the room moves on', async () => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index > 0) return send(conn.ws, 'again');
      pos(conn.ws, 'r', 10);
      msg(conn.ws, 'r', 13, 'thirteen');
      msg(conn.ws, 'r', 14, 'fourteen');
      msg(conn.ws, 'r', 13, 'thirteen again');
      send(conn.ws, 'end');
    });
    const { log, gaps, errors } = open(srv.url);
    await eventually(() => log.includes('end'), 'the last frame');
    assert.deepEqual(
      log,
      ['gap r skipped', 'thirteen@13/e1', 'fourteen@14/e1', 'end'],
      'one gap for the hole, not one per message',
    );
    assert.deepEqual(gaps, [{ room: 'r', reason: 'skipped' }]);
    srv.seen[0]!.ws.terminate();
    await eventually(() => log.includes('again'), 'the reconnect');
    assert.deepEqual(srv.seen[1]!.resume, { r: [14, 'e1'] }, 'resumed from the last message, past the hole');
    assert.deepEqual(errors, []);
  });

  it('a live message of another epoch: one gap with reason epoch, then the new epoch goes on without one', async () => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index > 0) return send(conn.ws, 'again');
      pos(conn.ws, 'r', 10);
      msg(conn.ws, 'r', 11, 'eleven');
      // The server's history was lost (a Redis restart): its stream starts again in a new epoch.
      msg(conn.ws, 'r', 1, 'one', 'e2');
      msg(conn.ws, 'r', 2, 'two', 'e2');
      send(conn.ws, 'end');
    });
    const { log, gaps } = open(srv.url);
    await eventually(() => log.includes('end'), 'the last frame');
    assert.deepEqual(log, ['eleven@11/e1', 'gap r epoch', 'one@1/e2', 'two@2/e2', 'end']);
    assert.deepEqual(gaps, [{ room: 'r', reason: 'epoch' }]);
    srv.seen[0]!.ws.terminate();
    await eventually(() => log.includes('again'), 'the reconnect');
    assert.deepEqual(srv.seen[1]!.resume, { r: [2, 'e2'] });
  });

  it('consecutive offsets, a replay after a reconnect, and a room first met by a message: no gap', async () => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) {
        pos(conn.ws, 'r', 4);
        msg(conn.ws, 'r', 5, 'five');
        msg(conn.ws, 'r', 6, 'six');
        // No position known for this room yet: wherever its first message is, nothing was missed here.
        msg(conn.ws, 'fresh', 40, 'forty', 'f');
        send(conn.ws, 'end');
        return;
      }
      msg(conn.ws, 'r', 7, 'seven');
      pos(conn.ws, 'r', 7);
      msg(conn.ws, 'r', 8, 'eight');
      pos(conn.ws, 'fresh', 40, 'f');
      send(conn.ws, 'again');
    });
    const { log, gaps } = open(srv.url);
    await eventually(() => log.includes('end'), 'the last frame');
    srv.seen[0]!.ws.terminate();
    await eventually(() => log.includes('again'), 'the reconnect');
    assert.deepEqual(srv.seen[1]!.resume, { r: [6, 'e1'], fresh: [40, 'f'] });
    assert.deepEqual(log, ['five@5/e1', 'six@6/e1', 'forty@40/f', 'end', 'seven@7/e1', 'eight@8/e1', 'again']);
    assert.deepEqual(gaps, []);
  });

  it('a gap frame, then a message at the new offset with no pos between: one gap in all', async () => {
    const srv = await wireServer((conn) => {
      hello(conn.ws);
      pos(conn.ws, 'r', 10);
      pos(conn.ws, 's', 3);
      // The server's history read failed: it says so, and cannot say where the room stands.
      gap(conn.ws, 'r');
      msg(conn.ws, 'r', 20, 'twenty');
      msg(conn.ws, 'r', 21, 'twenty-one');
      // The same with a changed epoch, and with the pos the server sends when it can.
      gap(conn.ws, 's', 'epoch');
      msg(conn.ws, 's', 1, 'one', 'e2');
      gap(conn.ws, 'r', 'expired');
      pos(conn.ws, 'r', 30);
      msg(conn.ws, 'r', 31, 'thirty-one');
      send(conn.ws, 'end');
    });
    const { log, gaps } = open(srv.url);
    await eventually(() => log.includes('end'), 'the last frame');
    assert.deepEqual(log, [
      'gap r unknown',
      'twenty@20/e1',
      'twenty-one@21/e1',
      'gap s epoch',
      'one@1/e2',
      'gap r expired',
      'thirty-one@31/e1',
      'end',
    ]);
    assert.equal(gaps.length, 3);
  });

  it('after a gap frame and no position since, the next reconnect does not resume the room from before the hole', async () => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) {
        pos(conn.ws, 'quiet', 10);
        pos(conn.ws, 'busy', 10);
        pos(conn.ws, 'kept', 2);
        gap(conn.ws, 'quiet');
        gap(conn.ws, 'busy');
        send(conn.ws, 'end');
        return;
      }
      if (index === 1) {
        // Placed afresh: `quiet` got nothing since, `busy` did (while away, or the reported hole: the client cannot tell).
        pos(conn.ws, 'quiet', 10);
        pos(conn.ws, 'busy', 17);
        pos(conn.ws, 'kept', 2);
        msg(conn.ws, 'quiet', 11, 'eleven');
        send(conn.ws, 'again');
        return;
      }
      send(conn.ws, 'third');
    });
    const { log, gaps } = open(srv.url);
    await eventually(() => log.includes('end'), 'the last frame');
    assert.deepEqual(gaps, [
      { room: 'quiet', reason: 'unknown' },
      { room: 'busy', reason: 'unknown' },
    ]);
    srv.seen[0]!.ws.terminate();
    await eventually(() => log.includes('again'), 'the reconnect');
    assert.deepEqual(srv.seen[1]!.resume, { kept: [2, 'e1'] }, 'a resume from 10 would replay the hole onGap told of');
    assert.deepEqual(gaps.slice(2), [{ room: 'busy', reason: 'unknown' }], 'a room that moved meanwhile: not silent');
    assert.deepEqual(log.slice(-2), ['eleven@11/e1', 'again'], 'placed again: resumed as usual');
    srv.seen[1]!.ws.terminate();
    await eventually(() => log.includes('third'), 'the second reconnect');
    assert.deepEqual(srv.seen[2]!.resume, { quiet: [11, 'e1'], busy: [17, 'e1'], kept: [2, 'e1'] });
  });

  it("keepPositions: 'session' keeps a room with a gap out of a reloaded page's resume", async (t) => {
    const items = new Map<string, string>();
    const global = globalThis as { sessionStorage?: unknown };
    global.sessionStorage = {
      getItem: (name: string) => items.get(name) ?? null,
      setItem: items.set.bind(items),
      removeItem: () => {},
    };
    t.after(() => {
      delete global.sessionStorage;
    });
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index > 0) return send(conn.ws, 'reloaded');
      pos(conn.ws, 'r', 10);
      pos(conn.ws, 's', 5);
      gap(conn.ws, 'r');
      send(conn.ws, 'end');
    });
    const first = open(srv.url, { keepPositions: 'session' });
    await eventually(() => first.log.includes('end'), 'the last frame');
    first.conn.close();
    const reloaded = open(srv.url, { keepPositions: 'session' });
    await eventually(() => reloaded.log.includes('reloaded'), 'the reloaded page');
    assert.deepEqual(srv.seen[1]!.resume, { s: [5, 'e1'] });
  });
});

/** Just enough of a browser for tabs that elect one of themselves: Web Locks, and the page's events. */
function browserTabs(): void {
  const queues = new Map<string, Array<{ run: () => void }>>();
  const next = (name: string) => queues.get(name)?.[0]?.run();
  const locks = {
    request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<void> {
      return new Promise((resolve, reject) => {
        const queue = queues.get(name) ?? [];
        queues.set(name, queue);
        let started = false;
        const entry = {
          run: () => {
            started = true;
            void callback()
              .then(resolve, reject)
              .finally(() => {
                queue.splice(queue.indexOf(entry), 1);
                next(name);
              });
          },
        };
        options.signal.addEventListener('abort', () => {
          if (started) return;
          queue.splice(queue.indexOf(entry), 1);
          reject(new DOMException('aborted', 'AbortError'));
        });
        queue.push(entry);
        if (queue.length === 1) next(name);
      });
    },
  };
  const page = new EventTarget();
  const global = globalThis as Record<string, unknown>;
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true, writable: true });
  global.addEventListener = page.addEventListener.bind(page);
  global.removeEventListener = page.removeEventListener.bind(page);
  cleanups.push(() => {
    delete global.navigator;
    delete global.addEventListener;
    delete global.removeEventListener;
  });
}

describe('switchboard/client gaps across tabs sharing one socket (broadcast-channel, in Node)', () => {
  it('every tab gets each gap once; the next tab to hold the socket resumes past the hole and reports nothing new', async () => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) return;
      pos(conn.ws, 'r', 13);
      pos(conn.ws, 'g', 5);
      msg(conn.ws, 'r', 14, 'fourteen');
      send(conn.ws, 'taken over');
    });
    browserTabs();
    const tab = () => {
      const conn = new CrossTabConnection(srv.url, async () => ({ url: srv.url }), {
        ...FAST,
        shareAcrossTabs: { via: 'broadcast-channel' },
      });
      cleanups.push(() => conn.close());
      return { conn, ...watch(conn) };
    };
    const first = tab();
    await eventually(() => first.conn.state.status === 'open' && srv.seen.length === 1, 'the first tab’s socket');
    const second = tab();
    await eventually(() => second.conn.state.status === 'open', 'the second tab hearing from the first');
    assert.equal(srv.seen.length, 1, 'one socket for both tabs');

    const ws = srv.seen[0]!.ws;
    // Sent once both tabs listen, so that the second one learns these positions as the first relays them.
    pos(ws, 'r', 10);
    pos(ws, 'g', 5);
    msg(ws, 'r', 11, 'eleven');
    msg(ws, 'r', 13, 'thirteen');
    gap(ws, 'g');
    send(ws, 'end');
    const expected = ['eleven@11/e1', 'gap r skipped', 'thirteen@13/e1', 'gap g unknown', 'end'];
    for (const each of [first, second]) {
      await eventually(() => each.log.includes('end'), 'the last frame in each tab');
      assert.deepEqual(each.log, expected);
    }

    first.conn.close();
    await eventually(() => second.log.includes('taken over'), 'the second tab holding the socket');
    assert.deepEqual(srv.seen[1]!.resume, { r: [13, 'e1'] }, 'the positions the tabs relayed, without the room of the gap');
    assert.deepEqual(second.log.slice(expected.length), ['fourteen@14/e1', 'taken over'], 'no gap from the handover');
  });
});
