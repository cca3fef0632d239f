import { checkClient } from './check-client.js';
import { checkRequests } from './check-requests.js';
import { checkPublished, checkStreams } from './check-streams.js';
import { Truth } from './check-truth.js';
import type { CheckInput, CheckResult, Violation } from './check-types.js';

/*
 * The checker of a fault run, `check`, and the types of what it reads and finds (check-types.ts,
 * where every kind of violation is explained). The checks themselves: check-truth.ts (the rooms'
 * histories), check-streams.ts (the streams and the publishes), check-client.ts (what each client
 * got), check-requests.ts (requests, handler runs and answers).
 */
export type { CheckedClient, CheckInput, CheckResult, Violation, ViolationKind } from './check-types.js';

export function check(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  const notes: string[] = [];
  const stats: Record<string, number> = {};
  const count = (name: string, by = 1) => {
    stats[name] = (stats[name] ?? 0) + by;
  };
  const at = (t: number) => `+${((t - input.startedAt) / 1000).toFixed(1)}s`;
  const faultsDuring = (from: number, to: number) => {
    const overlapping = input.faults.filter((fault) => fault.at <= to && (fault.healedAt ?? fault.at) >= from);
    return overlapping.length === 0
      ? 'no fault then'
      : `faults then: ${overlapping.map((fault) => `${fault.kind}${fault.node === undefined ? '' : `(n${fault.node})`}@${at(fault.at)}`).join(', ')}`;
  };

  // The truth: every lifetime's streams in order, then what clients got with a position that a snapshot missed.
  const truth = new Truth();
  for (const lifetime of input.lifetimes) {
    if (lifetime.error)
      notes.push(`a snapshot of Redis at ${at(lifetime.at)} failed (${lifetime.error}): that lifetime is unknown`);
    for (const [room, { epoch, entries }] of lifetime.rooms) {
      if (epoch) truth.addEpoch(room, epoch);
      for (const entry of entries) truth.add(entry);
    }
  }
  for (const room of input.rooms)
    count(
      'recorded',
      truth.epochsOf(room).reduce((sum, epoch) => sum + truth.inEpoch(room, epoch).length, 0),
    );
  for (const client of input.clients) {
    for (const event of client.events) {
      if (event.kind !== 'deliver' || event.epoch === undefined || event.offset === undefined) continue;
      if (!truth.knows(event.room, event.epoch)) continue;
      const got = { room: event.room, epoch: event.epoch, offset: event.offset, pub: event.pub, seq: event.seq };
      if (!truth.at(event.room, event.epoch, event.offset) && truth.add(got)) count('recorded-seen-only-by-clients');
    }
  }

  checkStreams(input, truth, violations, count);
  for (const client of input.clients) checkClient(input, client, truth, violations, notes, count, at, faultsDuring);
  checkRequests(input, violations, count, at, faultsDuring);
  checkPublished(input, truth, notes, count, at, faultsDuring);
  return { violations, notes, stats };
}
