import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  ClientError,
  type ConnectOptions,
  connect,
  type GapInfo,
  MAX_RESUME_CHARS,
  type MessageData,
  type PresenceInfo,
  RESUME_PARAM,
  type RoomMessage,
  type SharedConnection,
} from '../src/client/index.js';
import { redisBroker } from '../src/cluster/redis.js';
import { switchboard } from '../src/index.js';
import { launchChromium } from './browser/chromium.js';
import { closeServer, eventually, listen } from './helpers.js';

/** One connection as the test server saw it: its URL, its resume parameter decoded, what it sent. */
interface Seen {
  ws: WebSocket;
  url: URL;
  resume: Record<string, [number, string]> | undefined;
  /** The raw `sb_resume` value, to check its length. */
  rawResume: string | undefined;
  received: Array<Record<string, unknown>>;
}

interface WireServer {
  url: string;
  seen: Seen[];
  stop(): Promise<void>;
}

/**
 * A plain `ws` server that speaks the recovery wire format by hand: each test scripts what every
 * connection is sent, so the client is tested against the frames themselves, not against our server.
 */
async function wireServer(script: (conn: Seen, index: number) => void, pages?: http.RequestListener): Promise<WireServer> {
  const server = http.createServer(pages);
  const wss = new WebSocketServer({ server });
  const seen: Seen[] = [];
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawResume = url.searchParams.get(RESUME_PARAM) ?? undefined;
    const resume =
      rawResume === undefined
        ? undefined
        : (JSON.parse(Buffer.from(rawResume, 'base64url').toString('utf8')) as Record<string, [number, string]>);
    const conn: Seen = { ws, url, resume, rawResume, received: [] };
    ws.on('message', (data) => conn.received.push(JSON.parse(String(data)) as Record<string, unknown>));
    seen.push(conn);
    script(conn, seen.length - 1);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    seen,
    stop: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}

const send = (ws: WebSocket, frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
const hello = (ws: WebSocket) => send(ws, { sb: 'hello', recover: true });
const pos = (ws: WebSocket, room: string, offset: number, epoch = 'e1') => send(ws, { sb: 'pos', room, offset, epoch });
const msg = (ws: WebSocket, room: string, offset: number, data: unknown, epoch = 'e1') =>
  send(ws, { sb: 'msg', room, offset, epoch, data });

/** Quick retries, so that a drop is followed by a reconnect at once. */
const FAST: ConnectOptions = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 } };

interface Heard {
  data: MessageData;
  message: RoomMessage | undefined;
}

const opened: SharedConnection[] = [];
function open(
  url: string,
  options: ConnectOptions = {},
): { conn: SharedConnection; heard: Heard[]; gaps: GapInfo[]; errors: unknown[] } {
  const errors: unknown[] = [];
  const conn = connect(url, { ...FAST, onError: (error) => errors.push(error), ...options });
  opened.push(conn);
  const heard: Heard[] = [];
  const gaps: GapInfo[] = [];
  conn.subscribe((data, message) => heard.push({ data, message }));
  conn.onGap((gap) => gaps.push(gap));
  return { conn, heard, gaps, errors };
}

afterEach(() => {
  for (const conn of opened.splice(0)) conn.close();
});

describe('switchboard/client on a route with recover: true', () => {
  it('tracks positions and resumes from them on every reconnect, keeping the URL’s own query', async (t) => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) {
        msg(conn.ws, 'room:a', 1, 'a1');
        msg(conn.ws, 'room:a', 2, { event: 'note', data: 'a2' });
        pos(conn.ws, 'room:a', 2);
        pos(conn.ws, 'user:7', 5, 'u');
        msg(conn.ws, 'user:7', 6, 'u6', 'u');
      } else if (index === 1) {
        // The replay of what room:a got while the client was away, then its position.
        msg(conn.ws, 'room:a', 3, 'a3');
        pos(conn.ws, 'room:a', 3);
        pos(conn.ws, 'user:7', 6, 'u');
      }
    });
    t.after(srv.stop);
    const { conn, heard, gaps, errors } = open(`${srv.url}/live?tenant=acme`);
    const notes: Array<{ data: unknown; message: unknown }> = [];
    conn.on('note', (data, message) => notes.push({ data, message }));

    await eventually(() => heard.length === 3, 5_000, 'the three room messages');
    assert.deepEqual(
      heard.map((each) => each.data),
      ['a1', '{"event":"note","data":"a2"}', 'u6'],
      'payloads as a route without recovery would have sent them, and no sb frame',
    );
    assert.deepEqual(
      heard.map((each) => each.message),
      [
        { room: 'room:a', offset: 1, epoch: 'e1' },
        { room: 'room:a', offset: 2, epoch: 'e1' },
        { room: 'user:7', offset: 6, epoch: 'u' },
      ],
    );
    assert.deepEqual(notes, [{ data: 'a2', message: { event: 'note', data: 'a2', room: 'room:a', offset: 2, epoch: 'e1' } }]);
    assert.equal(srv.seen[0]!.resume, undefined, 'nothing to resume from on the first connection');

    srv.seen[0]!.ws.terminate();
    await eventually(() => srv.seen.length === 2, 5_000, 'the reconnect');
    const second = srv.seen[1]!;
    assert.equal(second.url.searchParams.get('tenant'), 'acme', 'the URL’s own query is kept');
    assert.deepEqual(second.resume, { 'room:a': [2, 'e1'], 'user:7': [6, 'u'] });
    await eventually(() => heard.length === 4, 5_000, 'the replayed message');
    assert.deepEqual(heard[3], { data: 'a3', message: { room: 'room:a', offset: 3, epoch: 'e1' } });

    second.ws.terminate();
    await eventually(() => srv.seen.length === 3, 5_000, 'the second reconnect');
    assert.deepEqual(srv.seen[2]!.resume, { 'room:a': [3, 'e1'], 'user:7': [6, 'u'] }, 'positions from the pos frames too');
    assert.deepEqual(gaps, []);
    assert.deepEqual(errors, []);
    assert.equal(heard.length, 4);
  });

  it('drops a message it already has (same epoch, offset not past the known one), and takes a new epoch', async (t) => {
    const srv = await wireServer((conn) => {
      hello(conn.ws);
      pos(conn.ws, 'r', 0);
      msg(conn.ws, 'r', 1, 'one');
      msg(conn.ws, 'r', 1, 'one again');
      msg(conn.ws, 'r', 2, 'two');
      msg(conn.ws, 'r', 0, 'older');
      send(conn.ws, { sb: 'gap', room: 'r', reason: 'epoch' });
      pos(conn.ws, 'r', 0, 'e2');
      msg(conn.ws, 'r', 1, 'one of the new epoch', 'e2');
      send(conn.ws, 'end');
    });
    t.after(srv.stop);
    const { heard, gaps } = open(`${srv.url}/live`);
    await eventually(() => heard.some((each) => each.data === 'end'), 5_000, 'the last frame');
    assert.deepEqual(
      heard.map((each) => each.data),
      ['one', 'two', 'one of the new epoch', 'end'],
    );
    assert.deepEqual(gaps, [{ room: 'r', reason: 'epoch' }]);
  });

  it('reports a gap to onGap and not to subscribers, and reports one itself when a position jumps unannounced', async (t) => {
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) {
        pos(conn.ws, 'kept', 4);
        pos(conn.ws, 'expired', 9);
        pos(conn.ws, 'skipped', 20);
        pos(conn.ws, 'quiet', 3);
        return;
      }
      send(conn.ws, { sb: 'gap', room: 'expired', reason: 'expired' });
      pos(conn.ws, 'expired', 15);
      msg(conn.ws, 'kept', 5, 'k5');
      pos(conn.ws, 'kept', 5);
      // A server that moved on without replaying or saying so: the client must not stay silent.
      pos(conn.ws, 'skipped', 25);
      pos(conn.ws, 'quiet', 3);
      // Later positions of the same connection (a room joined again) are not checked against the old one.
      pos(conn.ws, 'kept', 8);
      send(conn.ws, 'end');
    });
    t.after(srv.stop);
    const { heard, gaps } = open(`${srv.url}/live`);
    await eventually(() => srv.seen.length === 1);
    // The pos frames give subscribers nothing; a probe after them tells when they were all read.
    srv.seen[0]!.ws.send('probe');
    await eventually(() => heard.length === 1, 5_000, 'the probe');
    srv.seen[0]!.ws.terminate();
    await eventually(() => heard.some((each) => each.data === 'end'), 5_000, 'the last frame after the reconnect');
    assert.deepEqual(srv.seen[1]!.resume, { kept: [4, 'e1'], expired: [9, 'e1'], skipped: [20, 'e1'], quiet: [3, 'e1'] });
    assert.deepEqual(gaps, [
      { room: 'expired', reason: 'expired' },
      { room: 'skipped', reason: 'unknown' },
    ]);
    assert.deepEqual(
      heard.map((each) => each.data),
      ['probe', 'k5', 'end'],
    );
  });

  it('keeps the resume parameter under the limit with the most recent rooms; the others get a gap', async (t) => {
    const rooms = Array.from({ length: 120 }, (_, index) => `room-with-a-long-name-${'x'.repeat(20)}-${index}`);
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) {
        rooms.forEach((room, offset) => {
          pos(conn.ws, room, offset + 1);
        });
        send(conn.ws, 'positions sent');
        return;
      }
      for (const [offset, room] of rooms.entries()) {
        const resumed = conn.resume?.[room];
        // The server's part: what was resumed continues, what was not is placed further on.
        pos(conn.ws, room, resumed ? resumed[0] : offset + 100);
      }
      send(conn.ws, 'end');
    });
    t.after(srv.stop);
    const { heard, gaps } = open(`${srv.url}/live`);
    await eventually(() => heard.length === 1, 5_000, 'the positions');
    srv.seen[0]!.ws.terminate();
    await eventually(() => heard.length === 2, 5_000, 'the end of the second connection');
    const second = srv.seen[1]!;
    assert.ok(second.rawResume !== undefined && second.rawResume.length <= MAX_RESUME_CHARS, `${second.rawResume?.length} chars`);
    const resumed = Object.keys(second.resume ?? {});
    assert.ok(resumed.length > 10 && resumed.length < rooms.length, `${resumed.length} rooms resumed`);
    assert.deepEqual(resumed.sort(), rooms.slice(rooms.length - resumed.length).sort(), 'the most recently updated rooms');
    assert.deepEqual(
      gaps.map((gap) => gap.room).sort(),
      rooms.slice(0, rooms.length - resumed.length).sort(),
      'every room left out is reported',
    );
    assert.ok(gaps.every((gap) => gap.reason === 'unknown'));
  });

  it('delivers a base64 message as an ArrayBuffer, with its position', async (t) => {
    const srv = await wireServer((conn) => {
      hello(conn.ws);
      send(conn.ws, {
        sb: 'msg',
        room: 'bin',
        offset: 1,
        epoch: 'e1',
        encoding: 'base64',
        data: Buffer.from([0, 1, 250]).toString('base64'),
      });
    });
    t.after(srv.stop);
    const { heard } = open(`${srv.url}/live`);
    await eventually(() => heard.length === 1);
    const [first] = heard;
    assert.ok(first!.data instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(first!.data)], [0, 1, 250]);
    assert.deepEqual(first!.message, { room: 'bin', offset: 1, epoch: 'e1' });
  });

  it('hides every sb frame from subscribers, including kinds it does not know, and reports error frames', async (t) => {
    const srv = await wireServer((conn) => {
      hello(conn.ws);
      pos(conn.ws, 'r', 0);
      send(conn.ws, { sb: 'res', id: 'not-ours', data: 1 });
      send(conn.ws, { sb: 'future-kind', anything: true });
      send(conn.ws, { sb: 'error', code: 'ERR_RESUME_TOO_LARGE', message: 'resume too large' });
      send(conn.ws, { sb: 'hello', recover: true });
      send(conn.ws, { plain: 'json' });
      send(conn.ws, 'end');
    });
    t.after(srv.stop);
    const { heard, gaps, errors } = open(`${srv.url}/live`);
    await eventually(() => heard.some((each) => each.data === 'end'));
    assert.deepEqual(
      heard.map((each) => [each.data, each.message]),
      [
        ['{"plain":"json"}', undefined],
        ['end', undefined],
      ],
    );
    assert.deepEqual(gaps, []);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof ClientError && errors[0].code === 'ERR_RESUME_TOO_LARGE');
  });
});

describe('switchboard/client requests', () => {
  /** Answers `add` with the sum, `fail` with an error, never answers `never`. */
  function answering(conn: Seen): void {
    hello(conn.ws);
    conn.ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { sb: string; id: string; event: string; data: { a: number; b: number } };
      if (frame.event === 'add') send(conn.ws, { sb: 'res', id: frame.id, data: frame.data.a + frame.data.b });
      if (frame.event === 'fail')
        send(conn.ws, { sb: 'res', id: frame.id, error: { message: 'no such order', code: 'ERR_NOT_FOUND' } });
    });
  }

  it('settles with the answer, rejects with the server’s code on an error answer, and times out', async (t) => {
    const srv = await wireServer(answering);
    t.after(srv.stop);
    const { conn, heard } = open(`${srv.url}/live`);
    assert.equal(await conn.request('add', { a: 2, b: 3 }), 5);
    await assert.rejects(
      conn.request('fail', { a: 0, b: 0 }),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_NOT_FOUND' && error.message === 'no such order',
    );
    await assert.rejects(
      conn.request('never', undefined, { timeoutMs: 50 }),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_REQUEST_TIMEOUT',
    );
    await assert.rejects(
      conn.request('add', {}, { timeoutMs: -1 }),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_CLIENT_OPTIONS',
    );
    const frames = srv.seen[0]!.received;
    assert.deepEqual(
      frames.map((frame) => [frame.sb, frame.event]),
      [
        ['req', 'add'],
        ['req', 'fail'],
        ['req', 'never'],
      ],
    );
    assert.equal(new Set(frames.map((frame) => frame.id)).size, 3, 'a new id for each request');
    assert.ok(frames.every((frame) => typeof frame.id === 'string' && frame.id.length >= 16));
    assert.deepEqual(heard, [], 'answers are not messages');
  });

  it('sends an unanswered request again after a drop with the same id, and one made offline once connected', async (t) => {
    let answer = false;
    const srv = await wireServer((conn) => {
      hello(conn.ws);
      conn.ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { id: string; data: number };
        // Answered twice, as a server answering a duplicate from its record might: still one settlement.
        if (answer) for (let i = 0; i < 2; i++) send(conn.ws, { sb: 'res', id: frame.id, data: frame.data * 10 });
      });
    });
    t.after(srv.stop);
    const { conn, heard } = open(`${srv.url}/live`);
    let offline: Promise<unknown> | undefined;
    conn.onStateChange((state) => {
      // Made in the same turn as the drop is noticed, so surely while offline: it waits for the next socket.
      if (state.status === 'reconnecting' && !offline) {
        offline = conn.request('order:create', 2);
        answer = true;
      }
    });
    let settled = 0;
    const first = conn.request('order:create', 1).then((value) => {
      settled++;
      return value;
    });
    await eventually(() => srv.seen[0]?.received.length === 1, 5_000, 'the first request on the wire');
    srv.seen[0]!.ws.terminate();
    await eventually(() => offline !== undefined, 5_000, 'the client to notice the drop');
    assert.equal(await first, 10);
    assert.equal(await offline, 20);
    const firstId = srv.seen[0]!.received[0]!.id;
    const again = srv.seen.at(-1)!.received;
    assert.deepEqual(
      again.map((frame) => [frame.id === firstId, frame.data]),
      [
        [true, 1],
        [false, 2],
      ],
      'the same id for the resend, its own for the offline request',
    );
    assert.equal(settled, 1);
    assert.deepEqual(heard, [], 'the duplicate answer is not passed to subscribers');
  });

  it('rejects what is pending when the connection is closed, and refuses requests after', async (t) => {
    const srv = await wireServer((conn) => hello(conn.ws));
    t.after(srv.stop);
    const { conn } = open(`${srv.url}/live`);
    const pending = conn.request('never');
    await eventually(() => srv.seen[0]?.received.length === 1);
    conn.close();
    const closed = (error: unknown) => error instanceof ClientError && error.code === 'ERR_CONNECTION_CLOSED';
    await assert.rejects(pending, closed);
    await assert.rejects(conn.request('after'), closed);
  });
});

describe('switchboard/client on a route without recovery', () => {
  it('passes frames with an sb key to subscribers unchanged, never resumes, and still sends requests', async (t) => {
    const frames = [
      { sb: 'pos', room: 'r', offset: 1, epoch: 'e1' },
      { sb: 'msg', room: 'r', offset: 2, epoch: 'e1', data: 'x' },
      { sb: 'gap', room: 'r', reason: 'expired' },
      { sb: 'hello', recover: true },
    ].map((frame) => JSON.stringify(frame));
    const srv = await wireServer((conn) => {
      for (const frame of frames) send(conn.ws, frame);
      conn.ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { id: string };
        // Twice: the duplicate answer is recognized as the request's too, not passed on as the app's message.
        for (let i = 0; i < 2; i++) {
          send(conn.ws, { sb: 'res', id: frame.id, error: { code: 'ERR_NO_HANDLER', message: 'no handler for "ask"' } });
        }
      });
    });
    t.after(srv.stop);
    const { conn, heard, gaps } = open(`${srv.url}/plain`);
    await eventually(() => heard.length === frames.length);
    assert.deepEqual(
      heard.map((each) => [each.data, each.message]),
      frames.map((frame) => [frame, undefined]),
    );
    await assert.rejects(
      conn.request('ask', { q: 1 }),
      (error: unknown) => error instanceof ClientError && error.code === 'ERR_NO_HANDLER',
    );
    assert.deepEqual(srv.seen[0]!.received[0], { sb: 'req', id: srv.seen[0]!.received[0]!.id, event: 'ask', data: { q: 1 } });
    srv.seen[0]!.ws.terminate();
    await eventually(() => srv.seen.length === 2);
    assert.equal(srv.seen[1]!.rawResume, undefined, 'no positions from a route that does not recover');
    await eventually(() => heard.length === frames.length * 2);
    assert.deepEqual(gaps, []);
    assert.equal(heard.length, frames.length * 2, 'the answers to the request went to it, not to subscribers');
  });
});

describe('switchboard/client on a route with presence: true', () => {
  it('hands presence frames to onPresence, not to subscribers, and resumes nothing', async (t) => {
    const srv = await wireServer((conn) => {
      send(conn.ws, { sb: 'hello', presence: true });
      send(conn.ws, { sb: 'presence', room: 'lobby', type: 'state', members: [{ userId: 'ann', connections: 1 }] });
      send(conn.ws, 'an app message');
      send(conn.ws, { sb: 'presence', room: 'lobby', type: 'join', userId: 'bob', tenantId: 'acme' });
      send(conn.ws, { sb: 'presence', room: 'lobby', type: 'join' });
    });
    t.after(srv.stop);
    const { conn, heard, errors } = open(`${srv.url}/lobby`);
    const presences: PresenceInfo[] = [];
    conn.onPresence((presence) => presences.push(presence));
    await eventually(() => presences.length === 2 && errors.length === 1);
    assert.deepEqual(presences, [
      { room: 'lobby', type: 'state', members: [{ userId: 'ann', connections: 1 }] },
      { room: 'lobby', type: 'join', userId: 'bob', tenantId: 'acme' },
    ]);
    assert.deepEqual(
      heard.map((each) => each.data),
      ['an app message'],
    );
    assert.match(String((errors[0] as Error).message), /malformed frame/);
    srv.seen[0]?.ws.terminate();
    await eventually(() => srv.seen.length === 2);
    assert.equal(srv.seen[1]?.rawResume, undefined, 'a presence route does not recover');
  });

  it('tells who enters and leaves a room of the hub, with who was there first', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const identify = (req: http.IncomingMessage) => ({
      userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'x',
    });
    hub.ws('/lobby', {}, { authenticate: identify, presence: true }).on('connection', (ws) => hub.join(ws, 'lobby'));
    const { url } = await listen(server);
    t.after(async () => {
      await hub.close({ timeoutMs: 100 });
      await closeServer(server);
    });
    const { conn } = open(`${url}/lobby?user=ann`);
    const presences: PresenceInfo[] = [];
    conn.onPresence((presence) => presences.push(presence));
    await eventually(() => presences.some((p) => p.room === 'lobby' && p.type === 'state'));
    const bob = connect(`${url}/lobby?user=bob`, FAST);
    opened.push(bob);
    await eventually(() => presences.some((p) => p.type === 'join' && p.userId === 'bob' && p.room === 'lobby'));
    bob.close();
    await eventually(() => presences.some((p) => p.type === 'leave' && p.userId === 'bob' && p.room === 'lobby'));
    const state = presences.find((p) => p.room === 'lobby' && p.type === 'state');
    assert.ok(state?.type === 'state' && state.members.some((member) => member.userId === 'ann'), 'ann sees herself in the room');
  });
});

describe('switchboard/client keepPositions', () => {
  it('refuses an unknown value', () => {
    assert.throws(
      () => connect('ws://127.0.0.1:1/x', { keepPositions: 'local' as 'session' }),
      (error: unknown) =>
        error instanceof ClientError && error.code === 'ERR_CLIENT_OPTIONS' && /keepPositions/.test(error.message),
    );
  });

  it("'session' resumes a new connection object (a reloaded page) from sessionStorage", async (t) => {
    const items = new Map<string, string>();
    const storage = {
      getItem: (name: string) => items.get(name) ?? null,
      setItem: (name: string, value: string) => void items.set(name, value),
      removeItem: (name: string) => void items.delete(name),
    };
    const global = globalThis as { sessionStorage?: unknown };
    global.sessionStorage = storage;
    t.after(() => {
      delete global.sessionStorage;
    });
    const srv = await wireServer((conn, index) => {
      hello(conn.ws);
      if (index === 0) {
        pos(conn.ws, 'r', 7);
        msg(conn.ws, 'r', 8, 'eight');
      }
    });
    t.after(srv.stop);
    const url = `${srv.url}/live`;
    const first = open(url, { keepPositions: 'session' });
    await eventually(() => first.heard.length === 1);
    first.conn.close();
    assert.ok(
      [...items.keys()].some((name) => name.includes(url)),
      'written under the connection key',
    );

    const reloaded = open(url, { keepPositions: 'session' });
    await eventually(() => srv.seen.length === 2);
    assert.deepEqual(srv.seen[1]!.resume, { r: [8, 'e1'] }, 'the first connection of the new object resumes');
    reloaded.conn.close();

    open(url);
    await eventually(() => srv.seen.length === 3);
    assert.equal(srv.seen[2]!.resume, undefined, "the default, 'memory', starts afresh");
  });
});

/** The page of the cross-tab test: the client, with what it hears kept on `window` for the test to read. */
const PAGE_SCRIPT = `
import { connect } from './src/client/index.ts';
const page = window;
page.heard = [];
page.gaps = [];
page.answers = [];
page.start = (url, via) => {
  const conn = connect(url, { shareAcrossTabs: { via, workerUrl: '/shared-worker.js' }, reconnect: { baseDelayMs: 5, maxDelayMs: 20 } });
  page.conn = conn;
  conn.subscribe((data, message) => page.heard.push({ data: String(data), message: message ?? null }));
  conn.onGap((gap) => page.gaps.push(gap));
  conn.onStateChange((state) => { document.body.dataset.status = state.status; });
  document.body.dataset.status = conn.state.status;
};
page.ask = (event, data) =>
  page.conn.request(event, data).then((value) => page.answers.push({ value }), (error) => page.answers.push({ code: error.code }));
`;

async function bundle(options: Parameters<typeof build>[0]): Promise<string> {
  const result = await build({ bundle: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent', ...options });
  return result.outputFiles?.[0]?.text ?? '';
}

async function pages(): Promise<http.RequestListener> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const [script, worker] = await Promise.all([
    bundle({ stdin: { contents: PAGE_SCRIPT, resolveDir: root, loader: 'ts' } }),
    bundle({ entryPoints: [fileURLToPath(new URL('../src/client/shared-worker.ts', import.meta.url))] }),
  ]);
  const files: Record<string, [string, string]> = {
    '/': ['text/html', '<!doctype html><html><body><script type="module" src="/page.js"></script></body></html>'],
    '/page.js': ['text/javascript', script],
    '/shared-worker.js': ['text/javascript', worker],
  };
  return (req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!file) res.writeHead(404).end();
    else res.writeHead(200, { 'Content-Type': file[0], 'Cache-Control': 'no-store' }).end(file[1]);
  };
}

describe('switchboard/client recovery across tabs, in headless Chromium', () => {
  let browser: Browser;
  let handler: http.RequestListener;
  before(async () => {
    [browser, handler] = await Promise.all([launchChromium(), pages()]);
  });
  after(async () => {
    await browser?.close();
  });

  for (const via of ['shared-worker', 'broadcast-channel'] as const) {
    it(`relays room positions, gaps and requests to every tab, and resumes after a drop (${via})`, async (t) => {
      // Room `r` as a server with history would keep it; `three` is published while the client is away.
      const log: string[] = [];
      let answering = true;
      const srv = await wireServer((conn, index) => {
        hello(conn.ws);
        if (index > 0 && !log.includes('three')) log.push('three');
        const from = conn.resume?.r?.[0] ?? log.length;
        for (let offset = from + 1; offset <= log.length; offset++) msg(conn.ws, 'r', offset, log[offset - 1]);
        pos(conn.ws, 'r', log.length);
        conn.ws.on('message', (raw) => {
          const frame = JSON.parse(String(raw)) as { id: string; event: string; data: unknown };
          if (answering || index > 0) send(conn.ws, { sb: 'res', id: frame.id, data: `${frame.event}:${String(frame.data)}` });
        });
      }, handler);
      t.after(srv.stop);
      const base = srv.url.replace('ws:', 'http:');
      const context = await browser.newContext();
      t.after(() => context.close());
      const tab = async (): Promise<Page> => {
        const page = await context.newPage();
        await page.goto(`${base}/`);
        await page.waitForFunction(() => typeof (window as unknown as { start?: unknown }).start === 'function');
        await page.evaluate(
          ([url, mode]) => (window as unknown as { start(u: string, v: string): void }).start(url!, mode!),
          [`${srv.url}/live`, via],
        );
        await page.waitForFunction(() => document.body.dataset.status === 'open', undefined, { timeout: 10_000 });
        return page;
      };
      const read = <T>(page: Page, name: string) => page.evaluate((key) => (window as unknown as Record<string, T>)[key]!, name);
      const publish = (data: string) => {
        log.push(data);
        for (const conn of srv.seen) if (conn.ws.readyState === 1) msg(conn.ws, 'r', log.length, data);
      };

      const first = await tab();
      const second = await tab();
      assert.equal(srv.seen.length, 1, 'one socket for both tabs');
      publish('one');
      send(srv.seen[0]!.ws, { sb: 'gap', room: 'g', reason: 'expired' });
      for (const page of [first, second]) {
        await page.waitForFunction(() => (window as unknown as { gaps: unknown[] }).gaps.length === 1);
        assert.deepEqual(await read(page, 'heard'), [{ data: 'one', message: { room: 'r', offset: 1, epoch: 'e1' } }]);
        assert.deepEqual(await read(page, 'gaps'), [{ room: 'g', reason: 'expired' }]);
      }

      await second.evaluate(() => {
        // Not awaited in the page: evaluate would wait for the answer.
        void (window as unknown as { ask(e: string, d: unknown): Promise<void> }).ask('echo', 1);
      });
      await second.waitForFunction(() => (window as unknown as { answers: unknown[] }).answers.length === 1);
      assert.deepEqual(await read(second, 'answers'), [{ value: 'echo:1' }]);

      answering = false;
      await second.evaluate(() => {
        // Not awaited in the page: evaluate would wait for the answer.
        void (window as unknown as { ask(e: string, d: unknown): Promise<void> }).ask('later', 2);
      });
      await eventually(() => srv.seen[0]!.received.length === 2, 5_000, 'the unanswered request on the wire');
      publish('two');
      await second.waitForFunction(() => (window as unknown as { heard: unknown[] }).heard.length === 2);
      // The worker outlives tabs, so its socket is dropped by the server; an elected tab hands over by closing.
      if (via === 'shared-worker') srv.seen[0]!.ws.terminate();
      else await first.close();

      await second.waitForFunction(() => (window as unknown as { answers: unknown[] }).answers.length === 2, undefined, {
        timeout: 10_000,
      });
      assert.deepEqual((await read<unknown[]>(second, 'answers'))[1], { value: 'later:2' });
      assert.equal(srv.seen.length, 2);
      assert.deepEqual(srv.seen[1]!.resume, { r: [2, 'e1'] }, 'resumed from the last message the tabs got');
      assert.equal(srv.seen[1]!.received[0]!.id, srv.seen[0]!.received[1]!.id, 'the request resent with its id');
      await second.waitForFunction(() => (window as unknown as { heard: unknown[] }).heard.length === 3);
      assert.deepEqual((await read<Heard[]>(second, 'heard')).slice(1), [
        { data: 'two', message: { room: 'r', offset: 2, epoch: 'e1' } },
        { data: 'three', message: { room: 'r', offset: 3, epoch: 'e1' } },
      ]);
      assert.deepEqual(await read(second, 'gaps'), [{ room: 'g', reason: 'expired' }], 'no gap: the replay covered it');
    });
  }
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
