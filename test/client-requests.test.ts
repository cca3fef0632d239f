import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ClientError } from '../src/client/index.js';
import { hello, open, opened, type Seen, send, wireServer } from './client-helpers.js';
import { eventually } from './helpers.js';

afterEach(() => {
  for (const conn of opened.splice(0)) conn.close();
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
