import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type CheckedClient, type CheckInput, check } from './faults/checker.js';
import type { ClientEvent } from './faults/clients.js';
import { faultKinds } from './faults/faults.js';
import { formatResult, runSeed } from './faults/harness.js';
import { killAll } from './faults/processes.js';
import type { Recorded } from './faults/truth.js';

/**
 * The fault-injection suite (test/faults, `npm run faults` for more seeds and longer runs): one
 * short seed inside the normal suite, on one Redis and on a Redis Cluster. Its seed is fixed, and
 * with a fault every 1–2.5 s every kind of fault runs in it; the test says so, so that it fails if
 * the harness stops injecting.
 */
const SEED = 11;
const SECONDS = 25;

describe('fault injection: delivery promises under faults', () => {
  after(() => killAll());

  for (const cluster of [false, true]) {
    const title = `seed ${SEED}${cluster ? ' on Redis Cluster (a shard failing over)' : ''}: ${SECONDS} s of every kind of fault, and no promise broken`;
    it(title, { timeout: 150_000 }, async (t) => {
      const result = await runSeed({ seed: SEED, seconds: SECONDS, everyMs: [1_000, 2_500], cluster });
      const lines = formatResult(result);
      for (const line of lines.slice(0, 3)) t.diagnostic(line.trim());
      const report = lines.slice(0, 80).join('\n');
      for (const kind of faultKinds(cluster)) {
        assert.ok((result.faults[kind] ?? 0) > 0, `no ${kind} fault ran in seed ${SEED}\n${report}`);
      }
      assert.ok(
        (result.stats.delivered ?? 0) > 0 && (result.stats.requests ?? 0) > 0,
        `nothing was delivered or requested\n${report}`,
      );
      assert.deepEqual(result.violations, [], report);
    });
  }
});

/** The checker on made-up runs: it must find each kind of breach, and nothing in a run without one. */
describe('fault injection: the checker', () => {
  const E = 'epochA';
  const F = 'epochB';
  const recorded = (epoch: string, from: number, to: number): Recorded[] =>
    Array.from({ length: to - from + 1 }, (_, index) => ({
      room: 'r',
      epoch,
      offset: from + index,
      pub: 'p',
      seq: from + index,
    }));
  const entries = [...recorded(E, 1, 6)];
  let clock = 1_000;
  // Each event its own frame, but for `placedGap`: the gap the client reports on the `pos` just before.
  const open = (socket: number): ClientEvent => ({ t: clock, frame: clock++, kind: 'open', socket, node: 0 });
  const pos = (socket: number, offset: number, epoch = E): ClientEvent => ({
    t: clock,
    frame: clock++,
    kind: 'pos',
    socket,
    room: 'r',
    offset,
    epoch,
  });
  const gap = (socket: number, reason = 'expired'): ClientEvent => ({
    t: clock,
    frame: clock++,
    kind: 'gap',
    socket,
    room: 'r',
    reason,
  });
  const placedGap = (socket: number): ClientEvent => ({
    t: clock,
    frame: clock - 1,
    kind: 'gap',
    socket,
    room: 'r',
    reason: 'unknown',
  });
  const frame = (socket: number, offset: number): ClientEvent => ({
    t: clock,
    frame: clock++,
    kind: 'frame',
    socket,
    sb: 'msg',
    room: 'r',
    offset,
    epoch: E,
  });
  const got = (socket: number, offset: number, epoch = E, seq = offset): ClientEvent => ({
    t: clock,
    frame: clock++,
    kind: 'deliver',
    socket,
    room: 'r',
    pub: 'p',
    seq,
    offset,
    epoch,
  });
  const input = (events: ClientEvent[], stream: Recorded[] = entries): CheckInput => {
    const client: CheckedClient = { id: 'c0', user: 'u0', rooms: ['r'], events, requests: [] };
    const epochs = [...new Set(stream.map((entry) => entry.epoch))];
    return {
      recover: true,
      rooms: ['r'],
      lifetimes: epochs.map((epoch) => ({
        at: clock,
        rooms: new Map([['r', { epoch, entries: stream.filter((entry) => entry.epoch === epoch) }]]),
        runs: [],
      })),
      clients: [client],
      published: [],
      runs: [],
      faults: [],
      answerWindowMs: 12_500,
      startedAt: 0,
    };
  };
  const kinds = (events: ClientEvent[], stream?: Recorded[]) => check(input(events, stream)).violations.map((each) => each.kind);

  it('finds nothing wrong in a run that kept every promise', () => {
    assert.deepEqual(
      kinds([open(1), pos(1, 0), got(1, 1), got(1, 2), open(2), got(2, 3), got(2, 4), pos(2, 4), got(2, 5), got(2, 6)]),
      [],
    );
    // A gap, then the position after the hole: nothing owed in between.
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), open(2), gap(2), pos(2, 4), got(2, 5), got(2, 6)]), []);
    // The client's own gap on a live message that skipped offsets.
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), gap(1, 'skipped'), got(1, 4), got(1, 5), got(1, 6)]), []);
    // Back on a new socket, placed further on: the client's own gap on that position covers the hole.
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), open(2), pos(2, 4), placedGap(2), got(2, 5), got(2, 6)]), []);
    // Joined late: what came before the first position is not owed.
    assert.deepEqual(kinds([open(1), pos(1, 3), got(1, 4), got(1, 5), got(1, 6)]), []);
  });

  it('finds a loss without a gap, in the middle, at the end, and across an epoch', () => {
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), got(1, 3), got(1, 4), got(1, 5), got(1, 6)]), ['lost']);
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), got(1, 2), got(1, 3)]), ['lost']);
    const twoEpochs = [...recorded(E, 1, 3), ...recorded(F, 1, 2).map((entry) => ({ ...entry, seq: 10 + entry.seq }))];
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), got(1, 2), got(1, 3), got(1, 2, F, 12)], twoEpochs), ['lost']);
    assert.deepEqual(
      kinds([open(1), pos(1, 0), got(1, 1), got(1, 2), got(1, 3), gap(1, 'epoch'), got(1, 2, F, 12)], twoEpochs),
      [],
    );
  });

  it('finds a position that jumped without a gap, and messages sent out of order even when the client hid it', () => {
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), open(2), pos(2, 4), got(2, 5), got(2, 6)]), ['lost']);
    // The gap of a later frame does not cover a position's jump.
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), open(2), pos(2, 4), gap(2, 'skipped'), got(2, 6)]), ['lost']);
    assert.deepEqual(
      kinds([
        open(1),
        pos(1, 0),
        got(1, 1),
        frame(1, 3),
        gap(1, 'skipped'),
        got(1, 3),
        frame(1, 2),
        got(1, 4),
        got(1, 5),
        got(1, 6),
      ]),
      ['wire-order'],
    );
  });

  it('finds a message twice, out of order, and a partial replay', () => {
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), got(1, 2), got(1, 2), got(1, 3), got(1, 4), got(1, 5), got(1, 6)]), [
      'twice',
    ]);
    // Late, not lost: one breach, of order.
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), got(1, 3), got(1, 2), got(1, 4), got(1, 5), got(1, 6)]), ['order']);
    assert.deepEqual(kinds([open(1), pos(1, 0), got(1, 1), open(2), got(2, 2), gap(2), pos(2, 5), got(2, 6)]), [
      'partial-replay',
    ]);
  });

  it('finds requests unanswered, timed out while connected, and handlers run twice without a reason', () => {
    const events = [open(1), pos(1, 6)];
    const run = input(events);
    const client = run.clients[0] as CheckedClient;
    client.requests.push(
      { rid: 'c0-1', client: 'c0', sentAt: clock, timeoutMs: 20_000 },
      { rid: 'c0-2', client: 'c0', sentAt: clock, timeoutMs: 20_000, settledAt: clock + 20_000, outcome: 'ERR_REQUEST_TIMEOUT' },
      {
        rid: 'c0-3',
        client: 'c0',
        sentAt: clock,
        timeoutMs: 20_000,
        settledAt: clock + 500,
        outcome: 'data',
        answer: { rid: 'c0-9' },
      },
    );
    const done = { kind: 'done' as const, rid: 'c0-4', id: 'x', node: 'n0', duplicateRisk: false, at: clock };
    run.runs.push({ ...done, run: 'a' }, { ...done, run: 'b' });
    assert.deepEqual(
      check(run)
        .violations.map((each) => each.kind)
        .sort(),
      ['handler-twice', 'request-timeout-connected', 'request-unanswered', 'request-wrong-answer'],
    );
    run.runs[1] = { ...done, run: 'b', duplicateRisk: true };
    assert.ok(
      !check(run).violations.some((each) => each.kind === 'handler-twice'),
      'a second run with duplicateRisk is documented',
    );
    run.runs[1] = { ...done, run: 'b' };
    const failover = { kind: 'redis-failover' as const, at: clock - 1, healedAt: clock + 1 };
    run.faults.push({ ...failover, detail: 'shard of :1 to its replica :2 (CLUSTER FAILOVER)' });
    assert.ok(
      check(run).violations.some((each) => each.kind === 'handler-twice'),
      'a graceful failover loses no claim: a second run is not documented by it',
    );
    run.faults.push({ ...failover, detail: 'shard of :1 to its replica :2 (master SIGKILLed, restarted as a replica)' });
    assert.ok(
      !check(run).violations.some((each) => each.kind === 'handler-twice'),
      'a failover after a killed master may lose the claim: documented',
    );
  });
});
