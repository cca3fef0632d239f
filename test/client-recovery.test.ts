import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ClientError, connect, MAX_RESUME_CHARS } from '../src/client/index.js';
import { hello, msg, open, opened, pos, send, wireServer } from './client-helpers.js';
import { eventually } from './helpers.js';

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
