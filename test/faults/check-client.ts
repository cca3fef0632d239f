import { cmp, keyOf, type Ptr, type Truth } from './check-truth.js';
import type { CheckedClient, CheckInput, Violation, ViolationKind } from './check-types.js';
import type { ClientEvent } from './clients.js';
import type { Recorded } from './truth.js';

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

export function checkClient(
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
