import type { ClientEvent, RequestRecord } from './clients.js';
import type { FaultRecord } from './faults.js';
import type { RunRecord } from './nodes.js';
import type { PublishRecord } from './publishers.js';
import type { Lifetime, Recorded } from './truth.js';

/**
 * The promises checked, in the README's words ("Continuity", "Acknowledged requests", "Recovery
 * and requests", "Presence"), each violation one kind:
 * - `lost`: a message recorded in a room's stream after the client's first position there (within
 *   the epochs it went through) never reached it, and no `onGap` for that room said so in between.
 * - `twice`: the same publish (pub, seq) reached one client twice.
 * - `order`: a room's messages reached a client out of position order (or a publisher's out of
 *   its order, where the positions cannot tell).
 * - `partial-replay`: part of what a client missed was replayed on a new socket (what it delivers
 *   in a room before the room's first `pos` or `gap` there), and then a gap was reported: "nothing
 *   of that room's gap is sent".
 * - `wire-order`: the server sent a room's messages out of position order on one socket (a
 *   message at an offset below one it had already sent), which the client, dropping the late one,
 *   turns into a gap and a message never delivered.
 * - `wrong-payload`, `wrong-room`: a position delivered with another message than the stream
 *   has there; a message delivered as another room's.
 * - `not-joined`: a client that is open at the end never got a position for a room it is in.
 * - `stream-order`, `stream-twice`: the stream itself records a publisher's messages out of order,
 *   or one publish twice (what every client of the room then gets).
 * - `request-unanswered`: a request whose promise never settled.
 * - `request-timeout-connected`: a request timed out while its client had been connected, on one
 *   socket, long enough for any healthy cluster to answer (`answerWindowMs`).
 * - `request-wrong-answer`: the answer of another request.
 * - `request-two-answers`: two different answers sent for one request id ("the client gets one
 *   answer per id"), where none of the README's reasons for a second run applies.
 * - `handler-twice`: a request id whose handler completed twice where none of the README's reasons
 *   for a second run applies (a takeover or an unreachable Redis, both `ctx.duplicateRisk`; a Redis
 *   restart, or a failover after a killed master, between the runs); those are counted as
 *   `handler-twice-documented`.
 * - `not-open`: (checked by the harness) a client not connected again 20 s after everything healed.
 * - `presence`: (checked by the harness, which polls) a node's `presence(room)` never matched the
 *   clients in the room within 30 s of healing.
 */
export type ViolationKind =
  | 'lost'
  | 'twice'
  | 'order'
  | 'partial-replay'
  | 'wire-order'
  | 'wrong-payload'
  | 'wrong-room'
  | 'not-joined'
  | 'stream-order'
  | 'stream-twice'
  | 'request-unanswered'
  | 'request-timeout-connected'
  | 'request-wrong-answer'
  | 'request-two-answers'
  | 'handler-twice'
  | 'not-open'
  | 'presence';

export interface Violation {
  kind: ViolationKind;
  client?: string;
  room?: string;
  detail: string;
}

export interface CheckedClient {
  id: string;
  user: string;
  rooms: string[];
  events: ClientEvent[];
  requests: RequestRecord[];
}

export interface CheckInput {
  recover: boolean;
  rooms: string[];
  lifetimes: Lifetime[];
  clients: CheckedClient[];
  published: PublishRecord[];
  /** Handler runs as the nodes printed them (the lifetimes' lists are added). */
  runs: RunRecord[];
  faults: FaultRecord[];
  /** Connected this long on one socket, a request must have been answered (handler + claim lease + margin). */
  answerWindowMs: number;
  /** Times in lines are shown relative to this. */
  startedAt: number;
}

export interface CheckResult {
  violations: Violation[];
  notes: string[];
  stats: Record<string, number>;
}

/** A place in a room's history: the epoch's rank among the room's epochs, and the offset. */
interface Ptr {
  ei: number;
  o: number;
}

const cmp = (a: Ptr, b: Ptr) => a.ei - b.ei || a.o - b.o;
const keyOf = (pub: string, seq: number) => `${pub}#${seq}`;

/** Every Redis lifetime's streams, and what clients received with a position, as one history per room. */
class Truth {
  private readonly epochs = new Map<string, string[]>();
  private readonly entries = new Map<string, Map<string, Map<number, Recorded>>>();
  private readonly sorted = new Map<string, Recorded[]>();
  readonly byPayload = new Map<string, Recorded[]>();
  readonly mismatches: Array<{ room: string; epoch: string; offset: number; recorded: Recorded; got: Recorded }> = [];

  addEpoch(room: string, epoch: string): void {
    const list = this.epochs.get(room) ?? [];
    if (!list.includes(epoch)) list.push(epoch);
    this.epochs.set(room, list);
  }

  /** Adds a recorded message; false when that position holds another one already. */
  add(recorded: Recorded): boolean {
    this.addEpoch(recorded.room, recorded.epoch);
    const room = this.entries.get(recorded.room) ?? new Map<string, Map<number, Recorded>>();
    this.entries.set(recorded.room, room);
    const epoch = room.get(recorded.epoch) ?? new Map<number, Recorded>();
    room.set(recorded.epoch, epoch);
    const there = epoch.get(recorded.offset);
    if (there) return there.pub === recorded.pub && there.seq === recorded.seq;
    epoch.set(recorded.offset, recorded);
    this.sorted.delete(`${recorded.room}\u0000${recorded.epoch}`);
    const key = keyOf(recorded.pub, recorded.seq);
    this.byPayload.set(key, [...(this.byPayload.get(key) ?? []), recorded]);
    return true;
  }

  knows(room: string, epoch: string): boolean {
    return this.epochs.get(room)?.includes(epoch) ?? false;
  }

  epochIndex(room: string, epoch: string): number {
    return this.epochs.get(room)?.indexOf(epoch) ?? -1;
  }

  epochsOf(room: string): string[] {
    return this.epochs.get(room) ?? [];
  }

  at(room: string, epoch: string, offset: number): Recorded | undefined {
    return this.entries.get(room)?.get(epoch)?.get(offset);
  }

  ptrOf(recorded: Recorded): Ptr {
    return { ei: this.epochIndex(recorded.room, recorded.epoch), o: recorded.offset };
  }

  inEpoch(room: string, epoch: string): Recorded[] {
    const key = `${room}\u0000${epoch}`;
    let list = this.sorted.get(key);
    if (!list) {
      list = [...(this.entries.get(room)?.get(epoch)?.values() ?? [])].sort((a, b) => a.offset - b.offset);
      this.sorted.set(key, list);
    }
    return list;
  }

  /** Recorded messages after `from` and before `to` (or at it, `inclusive`). */
  between(room: string, from: Ptr, to: Ptr, inclusive: boolean): Recorded[] {
    const found: Recorded[] = [];
    const epochs = this.epochsOf(room);
    for (let ei = from.ei; ei <= to.ei; ei++) {
      for (const recorded of this.inEpoch(room, epochs[ei] as string)) {
        const here = { ei, o: recorded.offset };
        const lower = cmp(here, from) > 0;
        const upper = inclusive ? cmp(here, to) <= 0 : cmp(here, to) < 0;
        if (lower && upper) found.push(recorded);
      }
    }
    return found;
  }

  /** The last recorded message of the room. */
  last(room: string): Ptr | undefined {
    const epochs = this.epochsOf(room);
    for (let ei = epochs.length - 1; ei >= 0; ei--) {
      const list = this.inEpoch(room, epochs[ei] as string);
      const last = list[list.length - 1];
      if (last) return { ei, o: last.offset };
    }
    return undefined;
  }
}

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

function checkStreams(input: CheckInput, truth: Truth, violations: Violation[], count: (name: string) => void): void {
  for (const room of input.rooms) {
    const last = new Map<string, Recorded>();
    for (const epoch of truth.epochsOf(room)) {
      for (const recorded of truth.inEpoch(room, epoch)) {
        const before = last.get(recorded.pub);
        if (before && recorded.seq <= before.seq) {
          violations.push({
            kind: 'stream-order',
            room,
            detail: `the stream records ${recorded.pub} seq ${recorded.seq} at ${epoch}:${recorded.offset}, after seq ${before.seq} at ${before.epoch}:${before.offset}`,
          });
        }
        last.set(recorded.pub, recorded);
      }
    }
  }
  for (const [key, places] of truth.byPayload) {
    if (places.length < 2) continue;
    count('stream-twice');
    violations.push({
      kind: 'stream-twice',
      room: places[0]?.room,
      detail: `publish ${key} is recorded ${places.length} times: ${places.map((place) => `${place.epoch}:${place.offset}`).join(', ')}`,
    });
  }
}

function ranges(lost: Recorded[]): string {
  const byEpoch = new Map<string, number[]>();
  for (const recorded of lost) byEpoch.set(recorded.epoch, [...(byEpoch.get(recorded.epoch) ?? []), recorded.offset]);
  return [...byEpoch]
    .map(([epoch, offsets]) => {
      const parts: string[] = [];
      let start = offsets[0] as number;
      let previous = start;
      for (const offset of [...offsets.slice(1), Number.NaN]) {
        if (offset === previous + 1) {
          previous = offset;
          continue;
        }
        parts.push(start === previous ? String(start) : `${start}-${previous}`);
        start = offset;
        previous = offset;
      }
      return `epoch ${epoch} offsets ${parts.join(',')}`;
    })
    .join('; ');
}

function checkClient(
  input: CheckInput,
  client: CheckedClient,
  truth: Truth,
  violations: Violation[],
  notes: string[],
  count: (name: string, by?: number) => void,
  at: (t: number) => string,
  faultsDuring: (from: number, to: number) => string,
): void {
  const report = (kind: ViolationKind, room: string, detail: string) =>
    violations.push({ kind, client: client.id, room, detail });
  const delivered = client.events.filter((event) => event.kind === 'deliver');
  count('delivered', delivered.length);
  for (const event of client.events) {
    if (event.kind === 'gap') count(`gaps-${event.reason}`);
    else if (event.kind === 'frame') count(event.sb === 'msg' ? 'wire-msg-frames' : 'wire-gap-frames');
  }
  for (const event of delivered) {
    if (!client.rooms.includes(event.room)) report('wrong-room', event.room, `got ${event.pub}#${event.seq}, not in the room`);
  }
  const state = client.events.filter((event) => event.kind === 'open' || event.kind === 'close');
  const openAtEnd = state[state.length - 1]?.kind === 'open';

  // The server's order on the wire, per socket and room: offsets only go up within an epoch, and an
  // epoch left is never come back to.
  interface Sent {
    room: string;
    epoch: string;
    left: Set<string>;
    max: number;
    offsets: Set<number>;
    late: number;
    first?: string;
  }
  const sentOn = new Map<string, Sent>();
  for (const event of client.events) {
    if (event.kind !== 'frame' || event.sb !== 'msg' || event.offset === undefined || event.epoch === undefined) continue;
    const key = `${event.socket}\u0000${event.room}`;
    let sent = sentOn.get(key);
    if (!sent) {
      sent = { room: event.room, epoch: event.epoch, left: new Set(), max: event.offset, offsets: new Set(), late: 0 };
      sentOn.set(key, sent);
    }
    if (event.epoch !== sent.epoch && !sent.left.has(event.epoch)) {
      sent.left.add(sent.epoch);
      Object.assign(sent, { epoch: event.epoch, max: event.offset, offsets: new Set() });
    }
    const back = event.epoch !== sent.epoch;
    if (back || (event.offset < sent.max && !sent.offsets.has(event.offset))) {
      sent.late++;
      sent.first ??= `${event.epoch}:${event.offset} after ${sent.epoch}:${sent.max} on socket ${event.socket} at ${at(event.t)}`;
    }
    if (back) continue;
    sent.offsets.add(event.offset);
    sent.max = Math.max(sent.max, event.offset);
  }
  for (const sent of sentOn.values()) {
    if (sent.late === 0) continue;
    report(
      'wire-order',
      sent.room,
      `the server sent ${sent.late} message(s) below an offset it had already sent, first ${sent.first}`,
    );
  }

  for (const room of client.rooms) {
    const events = client.events.filter(
      (event) => event.kind === 'open' || (event.kind !== 'frame' && 'room' in event && event.room === room),
    );
    // Twice: the same publish, whatever the positions said.
    const times = new Map<string, Array<Extract<ClientEvent, { kind: 'deliver' }>>>();
    for (const event of events) {
      if (event.kind !== 'deliver') continue;
      const key = keyOf(event.pub, event.seq);
      times.set(key, [...(times.get(key) ?? []), event]);
    }
    for (const [key, got] of times) {
      if (got.length < 2) continue;
      report(
        'twice',
        room,
        `${key} delivered ${got.length} times: ${got.map((event) => `${event.epoch ?? '?'}:${event.offset ?? '?'} on socket ${event.socket} at ${at(event.t)}`).join(', ')}`,
      );
    }

    let cursor: Ptr | undefined;
    let cursorAt = 0;
    let gapPending = false;
    let socket = 0;
    // A socket's replay of a room is what it delivers there before the room's first `pos` or `gap` on it.
    let replaying = false;
    let replayDelivered = false;
    const seen = new Set<string>();
    const lastOfPub = new Map<string, { seq: number; ptr: Ptr | undefined }>();
    const show = (ptr: Ptr | undefined) => (ptr ? `${truth.epochsOf(room)[ptr.ei]}:${ptr.o}` : 'nothing');
    /** Holes not covered by a gap; reported at the end, less what arrived later after all (that is an `order` breach). */
    const holes: Array<{ lost: Recorded[]; context: string }> = [];
    const hole = (from: Ptr, to: Ptr, inclusive: boolean, covered: boolean, t: number, what: string) => {
      const lost = truth.between(room, from, to, inclusive);
      if (lost.length === 0) return;
      if (covered) {
        count('covered-by-gap', lost.length);
        return;
      }
      holes.push({
        lost,
        context: `had ${show(from)} at ${at(cursorAt)}, then ${what} at ${at(t)}; ${faultsDuring(cursorAt, t)}`,
      });
    };

    for (let index = 0; index < events.length; index++) {
      const event = events[index] as ClientEvent;
      if (event.kind === 'open') {
        socket = event.socket;
        replaying = true;
        replayDelivered = false;
        continue;
      }
      if (event.kind === 'gap') {
        if (input.recover && replaying && replayDelivered && event.socket === socket) {
          report(
            'partial-replay',
            room,
            `part of the replay delivered on socket ${socket}, then a gap (${event.reason}) at ${at(event.t)}`,
          );
        }
        replaying = false;
        gapPending = true;
        continue;
      }
      if (event.kind === 'pos') {
        if (!truth.knows(room, event.epoch)) {
          count('positions-in-unknown-epochs');
          replaying = false;
          continue;
        }
        const ptr = { ei: truth.epochIndex(room, event.epoch), o: event.offset };
        let covered = gapPending;
        const next = events[index + 1];
        // The client reports a gap itself when the position jumps ahead of what it had: right after the `pos`.
        if (next?.kind === 'gap' && next.frame === event.frame) {
          covered = true;
          index++;
          if (replaying && replayDelivered) {
            report(
              'partial-replay',
              room,
              `part of the replay delivered on socket ${socket}, then a position ahead of it and a gap (${next.reason}) at ${at(next.t)}`,
            );
          }
        }
        if (!cursor) {
          cursor = ptr;
          cursorAt = event.t;
        } else if (cmp(ptr, cursor) > 0) {
          hole(cursor, ptr, true, covered, event.t, `a position ${show(ptr)} on socket ${event.socket}`);
          cursor = ptr;
          cursorAt = event.t;
        } else if (cmp(ptr, cursor) < 0) {
          count('positions-behind-delivered');
        }
        gapPending = false;
        replaying = false;
        continue;
      }
      if (event.kind !== 'deliver') continue;
      const key = keyOf(event.pub, event.seq);
      const again = seen.has(key);
      seen.add(key);
      let ptr: Ptr | undefined;
      if (event.epoch !== undefined && event.offset !== undefined) {
        if (!truth.knows(room, event.epoch)) {
          count('deliveries-in-unknown-epochs');
          continue;
        }
        ptr = { ei: truth.epochIndex(room, event.epoch), o: event.offset };
        const recorded = truth.at(room, event.epoch, event.offset);
        if (recorded && (recorded.pub !== event.pub || recorded.seq !== event.seq)) {
          report(
            'wrong-payload',
            room,
            `${event.epoch}:${event.offset} delivered as ${key}, the stream has ${keyOf(recorded.pub, recorded.seq)} there`,
          );
        }
      } else {
        const recorded = truth.byPayload.get(key)?.find((each) => each.room === room);
        if (recorded) ptr = truth.ptrOf(recorded);
        else count('deliveries-without-position');
      }
      if (input.recover && replaying && event.socket === socket) replayDelivered = true;
      if (again) continue; // reported as twice
      // A publisher's order: on a recovering route where the positions cannot tell (a message without one), else always.
      const before = lastOfPub.get(event.pub);
      if (before && event.seq < before.seq && (!input.recover || !ptr || !before.ptr)) {
        report('order', room, `${event.pub} seq ${event.seq} delivered after seq ${before.seq} at ${at(event.t)}`);
      }
      if (!before || event.seq > before.seq) lastOfPub.set(event.pub, { seq: event.seq, ptr });
      if (!ptr) continue;
      if (!cursor) {
        if (input.recover) count('delivered-before-first-position');
        cursor = ptr;
        cursorAt = event.t;
        continue;
      }
      if (cmp(ptr, cursor) <= 0) {
        // Positions are a recovering route's promise; without recover only a publisher's own order is (checked above).
        if (input.recover)
          report(
            'order',
            room,
            `${key} at ${show(ptr)} delivered after ${show(cursor)}, on socket ${event.socket} at ${at(event.t)}`,
          );
        continue;
      }
      hole(cursor, ptr, false, gapPending, event.t, `${key} at ${show(ptr)} on socket ${event.socket}`);
      cursor = ptr;
      cursorAt = event.t;
      gapPending = false;
    }

    const last = truth.last(room);
    const reportHoles = () => {
      for (const { lost, context } of holes) {
        const never = lost.filter((recorded) => !seen.has(keyOf(recorded.pub, recorded.seq)));
        if (never.length === 0) continue;
        count('lost', never.length);
        report('lost', room, `lost ${never.length} message(s) without a gap: ${ranges(never)} (${context})`);
      }
    };
    if (!cursor) {
      if (input.recover && openAtEnd) report('not-joined', room, 'open at the end, and never told a position in the room');
      else if (last) notes.push(`${client.id} never got anything in ${room}`);
      reportHoles();
      continue;
    }
    if (last && cmp(last, cursor) > 0) {
      const end = Math.max(...input.lifetimes.map((lifetime) => lifetime.at));
      hole(cursor, last, true, gapPending, end, 'the end of the run');
    }
    reportHoles();
  }
}

/** The socket a client had open at `t`, if any: its number, node and when it opened. */
function socketAt(events: ClientEvent[], t: number): { socket: number; node: number; openedAt: number } | undefined {
  let open: { socket: number; node: number; openedAt: number } | undefined;
  for (const event of events) {
    if (event.t > t) break;
    if (event.kind === 'open') open = { socket: event.socket, node: event.node, openedAt: event.t };
    else if (event.kind === 'close' && open?.socket === event.socket) open = undefined;
  }
  return open;
}

function checkRequests(
  input: CheckInput,
  violations: Violation[],
  count: (name: string, by?: number) => void,
  at: (t: number) => string,
  faultsDuring: (from: number, to: number) => string,
): void {
  for (const client of input.clients) {
    for (const request of client.requests) {
      count('requests');
      const report = (kind: ViolationKind, detail: string) =>
        violations.push({ kind, client: client.id, detail: `request ${request.rid} sent at ${at(request.sentAt)}: ${detail}` });
      if (request.settledAt === undefined) {
        report(
          'request-unanswered',
          `never settled (timeout ${request.timeoutMs} ms); ${faultsDuring(request.sentAt, request.sentAt + request.timeoutMs)}`,
        );
        continue;
      }
      count(`requests-${request.outcome}`);
      if (request.outcome === 'data') {
        const rid = (request.answer as { rid?: unknown } | null)?.rid;
        if (rid !== request.rid) report('request-wrong-answer', `answered ${JSON.stringify(request.answer)}`);
        continue;
      }
      if (request.outcome !== 'ERR_REQUEST_TIMEOUT') continue;
      const socket = socketAt(client.events, request.settledAt);
      if (socket && request.settledAt - socket.openedAt >= input.answerWindowMs) {
        report(
          'request-timeout-connected',
          `timed out at ${at(request.settledAt)} on socket ${socket.socket} to node ${socket.node}, open since ${at(socket.openedAt)}; ${faultsDuring(request.sentAt, request.settledAt)}`,
        );
      } else count('requests-timeout-while-away');
    }
  }

  // Handler runs: the nodes' stdout and the Redis lists of every lifetime, one record per run.
  const runs = new Map<string, RunRecord>();
  for (const run of [...input.runs, ...input.lifetimes.flatMap((lifetime) => lifetime.runs)])
    runs.set(`${run.kind}|${run.run}`, run);
  const starts = new Map<string, RunRecord>();
  const done = new Map<string, RunRecord[]>();
  for (const run of runs.values()) {
    if (run.kind === 'start') {
      count('handler-starts');
      starts.set(run.run, run);
    } else {
      count('handler-completions');
      done.set(run.rid, [...(done.get(run.rid) ?? []), run]);
    }
  }
  /**
   * README, "What once means": the handler runs again when its node died or stopped past the lease
   * (a takeover) or Redis could not be reached (both: ctx.duplicateRisk), and after a Redis restart
   * or a failover that lost the last writes (the record is gone). Anything else that makes a second
   * run breaks "usually exactly once".
   */
  const documented = (runsOfId: RunRecord[]) => {
    const started = runsOfId.map((run) => starts.get(run.run) ?? run);
    if (started.some((run) => run.duplicateRisk)) return 'a run says duplicateRisk';
    const from = Math.min(...started.map((run) => run.at));
    const to = Math.max(...started.map((run) => run.at));
    if (input.faults.some((fault) => fault.kind === 'redis-restart' && fault.at <= to && (fault.healedAt ?? fault.at) >= from)) {
      return 'Redis restarted between the runs';
    }
    // A graceful failover loses nothing; a master killed before its replica had the claim does.
    const lossy = (fault: FaultRecord) => fault.kind === 'redis-failover' && fault.detail.includes('SIGKILL');
    if (input.faults.some((fault) => lossy(fault) && fault.at <= to && (fault.healedAt ?? fault.at) >= from)) {
      return 'a master was killed and its replica promoted between the runs';
    }
    return undefined;
  };
  const describeRuns = (runsOfId: RunRecord[]) =>
    runsOfId.map((run) => `${run.node} at ${at(run.at)}${run.duplicateRisk ? ' (duplicateRisk)' : ''}`).join(', ');
  for (const [rid, completed] of done) {
    if (completed.length < 2) continue;
    const why = documented(completed);
    if (why) {
      count('handler-twice-documented');
      continue;
    }
    violations.push({
      kind: 'handler-twice',
      client: rid.split('-')[0],
      detail: `request ${rid}'s handler completed ${completed.length} times: ${describeRuns(completed)}; ${faultsDuring(Math.min(...completed.map((run) => run.at)) - 2_000, Math.max(...completed.map((run) => run.at)))}`,
    });
  }

  // "The client gets one answer per id": every answer frame sent for an id carries the same answer.
  for (const client of input.clients) {
    const answers = new Map<string, Array<Extract<ClientEvent, { kind: 'res' }>>>();
    for (const event of client.events) {
      if (event.kind !== 'res' || event.error === 'ERR_REQUEST_PENDING') continue;
      answers.set(event.id, [...(answers.get(event.id) ?? []), event]);
    }
    for (const [id, frames] of answers) {
      const distinct = [...new Set(frames.map((frame) => frame.answer))];
      if (distinct.length < 2) continue;
      const rid = frames.map((frame) => (JSON.parse(frame.answer) as { rid?: string } | null)?.rid).find(Boolean);
      const runsOfId = rid ? (done.get(rid) ?? []) : [];
      if (runsOfId.length > 1 && documented(runsOfId)) {
        count('two-answers-documented');
        continue;
      }
      violations.push({
        kind: 'request-two-answers',
        client: client.id,
        detail: `request ${rid ?? id} was answered ${distinct.join(' and ')} (${frames.map((frame) => `socket ${frame.socket} at ${at(frame.t)}`).join(', ')}); runs: ${describeRuns(runsOfId)}`,
      });
    }
  }
}

function checkPublished(
  input: CheckInput,
  truth: Truth,
  notes: string[],
  count: (name: string, by?: number) => void,
  at: (t: number) => string,
  faultsDuring: (from: number, to: number) => string,
): void {
  const unrecorded: PublishRecord[] = [];
  for (const publish of input.published) {
    count('published');
    if (publish.confirmed) count('published-confirmed');
    if (truth.byPayload.has(keyOf(publish.pub, publish.seq))) continue;
    if (publish.confirmed) unrecorded.push(publish);
  }
  count('confirmed-but-never-recorded', unrecorded.length);
  unrecorded.sort((a, b) => a.at - b.at);
  // Not owed to anyone ("a message published while Redis is unreachable does not reach other nodes"), but worth seeing.
  const byTime: PublishRecord[][] = [];
  for (const publish of unrecorded) {
    const group = byTime[byTime.length - 1];
    const previous = group?.[group.length - 1];
    if (group && previous && publish.at - previous.at < 1_000) group.push(publish);
    else byTime.push([publish]);
  }
  for (const group of byTime.slice(0, 20)) {
    const first = group[0] as PublishRecord;
    const last = group[group.length - 1] as PublishRecord;
    notes.push(
      `${group.length} confirmed publish(es) never recorded in a stream, ${at(first.at)}–${at(last.at)} (${[...new Set(group.map((each) => each.node))].join(', ')}; ${faultsDuring(first.at - 500, last.at + 500)})`,
    );
  }
}
