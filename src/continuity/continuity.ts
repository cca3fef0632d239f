import type { WebSocket } from 'ws';
import type { BrokerLink, BusMessage } from '../cluster/broker.js';
import { type BroadcastResult, broadcast, type SlowConsumerPolicy } from '../realtime/broadcast.js';
import { Observers } from '../realtime/observers.js';
import type { AppendResult, DuplicateAppend, GapReason, HistoryStore, Position, ReadResult } from './history.js';
import { RoomSequence } from './room-sequence.js';
import {
  epochOf,
  errorFrame,
  gapFrame,
  HELLO_FRAME,
  messageFrameParts,
  offsetOf,
  parseResume,
  positionFrame,
  RESUME_PARAM,
  type RoomData,
} from './wire.js';

/** A room message to deliver: its plain form for the other connections, its data for the envelope. */
export interface RoomMessage {
  room: string;
  payload: Buffer | string;
  binary: boolean;
  data: RoomData;
  /** What goes to the other nodes (the positioned frame is added when there is one). */
  bus: Extract<BusMessage, { type: 'publish' | 'emit' }>;
}

/**
 * Rooms as streams with positions, for the connections of routes with `recover: true`. Such a
 * connection is told where each room is when it joins it; room messages reach it with their
 * position; and when it comes back with the positions it had (the `sb_resume` parameter of its
 * handshake), joining a room again first replays what it missed there, or says plainly that it
 * cannot (a gap), before anything newer.
 */
export class Continuity {
  /** Recovering connections, with the positions they resumed from and have not joined again yet. */
  private readonly recovering = new WeakMap<WebSocket, Map<string, Position>>();
  /**
   * Live frames held for a connection while a shared store reads what it missed in a room: sent
   * after the replay, those it already had left out, so that nothing overtakes and nothing repeats.
   */
  private readonly held = new Map<WebSocket, Map<string, string[]>>();
  /**
   * After a replay, the offset each connection got up to in a room: the read's answer and the live
   * frames come over different connections to a shared store, so frames the read already covered
   * can still be on their way; they are left out until the first newer one.
   */
  private readonly floors = new Map<WebSocket, Map<string, Position>>();
  /**
   * Rooms whose position a connection could not be told (the history read failed): it gets it
   * with the first positioned frame of the room, just before it.
   */
  private readonly unplaced = new Map<WebSocket, Set<string>>();
  /** With a shared history: this node's frames of each room in offset order, holes filled or said (room-sequence.ts). */
  private readonly sequence: RoomSequence | undefined;
  /** Per room, the local delivery of this node's last publish: the next waits for it, so order holds. */
  private readonly turns = new Map<string, Promise<void>>();
  /** Numbers this node's appends, so that the store makes one sent twice (a resend after a reset) once. */
  private appends = 0;

  constructor(
    private readonly history: HistoryStore | undefined,
    private readonly policy: SlowConsumerPolicy,
    private readonly link: BrokerLink,
    private readonly reportError: (error: unknown, fields: Record<string, unknown>) => void,
    private readonly observers: Observers = new Observers(),
    /** The `ws` connections in a room on this hub. */
    private readonly membersOf: (room: string) => ReadonlySet<WebSocket> = () => new Set(),
  ) {
    if (history?.shared) {
      this.sequence = new RoomSequence(history, {
        frame: (room, frame) => this.sendPositioned(room, frame),
        gap: (room, reason, position) => this.sendGap(room, reason, position),
        report: reportError,
      });
    }
  }

  get enabled(): boolean {
    return this.history !== undefined;
  }

  /** A connection of a recovering route opened: it is told so first, and its resume is read. */
  opened(ws: WebSocket, query: URLSearchParams, hello = HELLO_FRAME): void {
    if (!this.history) return;
    ws.send(hello);
    const resume = parseResume(query.get(RESUME_PARAM));
    if (resume && 'error' in resume) {
      // Nothing of it is used: each room the client had shows as joined afresh, which the client sees as a gap.
      ws.send(errorFrame('ERR_RESUME_INVALID', `${resume.error}; continuity is not restored for any room`));
    }
    this.recovering.set(ws, resume instanceof Map ? resume : new Map());
  }

  /**
   * `ws` was just put in `room`: replay what it missed there (or a gap), then where the room is.
   * `live`: settles once the room's messages reach this node (routing by room); the room is read
   * after it, and what arrives meanwhile is held, so that nothing published after the position
   * read is missed.
   */
  joined(ws: WebSocket, room: string, live?: Promise<void>): void {
    const resume = this.recovering.get(ws);
    if (!resume || !this.history) return;
    const from = resume.get(room);
    resume.delete(room);
    const history = this.history;
    const read = live ? live.then(() => history.read(room, from)) : history.read(room, from);
    if (!(read instanceof Promise)) {
      this.replay(ws, room, read, [], from === undefined);
      return;
    }
    let rooms = this.held.get(ws);
    if (!rooms) {
      rooms = new Map();
      this.held.set(ws, rooms);
    }
    const held: string[] = [];
    rooms.set(room, held);
    const release = () => {
      rooms.delete(room);
      if (rooms.size === 0) this.held.delete(ws);
    };
    read.then(
      (result) => {
        release();
        this.replay(ws, room, result, held, from === undefined, true);
      },
      (error) => {
        release();
        this.reportError(error, { during: 'history read', room });
        if (from !== undefined) this.observers.recovered('failed');
        this.afterFailedRead(ws, room, from, held);
      },
    );
  }

  /**
   * Publishes a room message: recorded in the room's stream when the hub keeps history, sent to
   * the other nodes, and delivered here (positioned to recovering members, plain to the others).
   * With a shared store the delivery waits for the message's position: the result then counts nothing.
   */
  publish(members: () => ReadonlySet<WebSocket>, message: RoomMessage): BroadcastResult {
    if (!this.history) {
      this.link.publish(message.bus);
      return this.deliver(members(), message.room, message.payload, message.binary, undefined);
    }
    const appended = this.history.append(message.room, messageFrameParts(message.room, message.data), {
      nodeId: this.link.nodeId,
      message: message.bus,
      seq: ++this.appends,
    });
    if (!(appended instanceof Promise)) return this.afterAppend(members, message, appended);
    const { room } = message;
    // Appends answer in the order they were sent, except around a reset: those on the wire are
    // sent again (and answer late), those made while Redis is away fail at once. Each publish's
    // local delivery waits for the one before, so the node's clients get them in publish order.
    const previous = this.turns.get(room) ?? RESOLVED;
    const turn = appended.then(
      (result) => previous.then(() => void this.afterAppend(members, message, result)),
      (error) =>
        previous.then(() => {
          // Not recorded, so not positioned: recovering connections never get it (nor any other
          // node's: it has no place in the room's stream), the others get the plain form, as
          // without history. The publisher is told through the hub's 'error' event.
          this.reportError(error, { during: 'history append', room });
          this.link.publish(message.bus);
          this.deliver(members(), room, message.payload, message.binary, undefined);
        }),
    );
    this.turns.set(room, turn);
    void turn.then(() => {
      if (this.turns.get(room) === turn) this.turns.delete(room);
    });
    return { sent: 0, skipped: 0, closed: 0 };
  }

  /** The broker is back after an outage: anything sent to this node meanwhile may be lost, so every followed room is read. */
  resync(): void {
    this.sequence?.resync();
  }

  /** No connection of this hub is in the room any more. */
  forget(room: string): void {
    this.sequence?.forget(room);
  }

  close(): void {
    this.sequence?.close();
  }

  /**
   * Delivers a room message: the recovering members get `frame` (the message with its position),
   * the others the raw payload as always. Each form is framed once.
   */
  deliver(
    members: ReadonlySet<WebSocket>,
    room: string,
    payload: Buffer | string,
    binary: boolean,
    frame: string | undefined,
  ): BroadcastResult {
    if (frame === undefined && !this.history) return this.reported(broadcast(members, payload, binary, this.policy));
    const plain: WebSocket[] = [];
    let recovering = 0;
    for (const ws of members) {
      if (!this.recovering.has(ws)) plain.push(ws);
      else recovering++;
    }
    const first = broadcast(plain, payload, binary, this.policy);
    // A message without a position never reaches a recovering connection: it would be a message
    // outside the room's stream, which no other node's connection and no replay would have.
    if (frame === undefined) return this.reported(first);
    if (this.sequence && (recovering > 0 || this.sequence.has(room))) {
      this.reported(first);
      this.sequence.accept(room, frame);
      return first;
    }
    const second = this.sendPositioned(room, frame, members, false);
    return this.reported({
      sent: first.sent + second.sent,
      skipped: first.skipped + second.skipped,
      closed: first.closed + second.closed,
    });
  }

  /**
   * The rejoin's read failed. Where the node's own view of the room (the first frame held, or the
   * last it handed on) is not ahead of where the connection resumes from, nothing is missing: the
   * connection stays at its own position and gets only what comes after it. Otherwise nothing can
   * be said of what it missed: a gap, so the app reloads, then that view's position and what was
   * held. With no view yet, the position goes before the first frame to come.
   */
  private afterFailedRead(ws: WebSocket, room: string, from: Position | undefined, held: string[]): void {
    const first = held[0];
    const known =
      first !== undefined ? { offset: offsetOf(first) - 1, epoch: epochOf(first) ?? '' } : this.sequence?.position(room);
    if (!known) {
      send(ws, gapFrame(room, 'unknown'));
      if (from) this.setFloor(ws, room, from);
      this.setUnplaced(ws, room);
      return;
    }
    const ahead = from !== undefined && from.epoch === known.epoch && from.offset >= known.offset;
    if (!ahead) send(ws, gapFrame(room, 'unknown'));
    const start = ahead ? from : known;
    send(ws, positionFrame(room, start));
    let floor = start;
    for (const frame of held) {
      const offset = offsetOf(frame);
      const epoch = epochOf(frame) ?? floor.epoch;
      if (epoch === floor.epoch && offset <= floor.offset) continue;
      floor = { offset, epoch };
      send(ws, frame);
    }
    if (ws.readyState === 1) this.setFloor(ws, room, floor);
  }

  /** A positioned frame to the room's recovering connections here: held during a replay, above each one's floor. */
  private sendPositioned(room: string, frame: string, members = this.membersOf(room), report = true): BroadcastResult {
    const positioned: WebSocket[] = [];
    for (const ws of members) {
      if (!this.recovering.has(ws)) continue;
      const held = this.held.size > 0 ? this.held.get(ws)?.get(room) : undefined;
      if (held) held.push(frame);
      else if (this.floors.size === 0 || this.aboveFloor(ws, room, frame)) {
        if (this.unplaced.size > 0) this.placeBefore(ws, room, frame);
        positioned.push(ws);
      }
    }
    const result = broadcast(positioned, frame, false, this.policy);
    return report ? this.reported(result) : result;
  }

  /** A hole this node cannot fill: its recovering connections in the room are told, then where the room stands. */
  private sendGap(room: string, reason: GapReason | 'unknown', position: Position): void {
    const gap = gapFrame(room, reason);
    const placed = positionFrame(room, position);
    for (const ws of this.membersOf(room)) {
      // One being replayed gets the room from its own read.
      if (!this.recovering.has(ws) || this.held.get(ws)?.has(room)) continue;
      // One whose own read took it past the hole has all of it: it goes on from where it is.
      const floor = this.floors.get(ws)?.get(room);
      if (floor && floor.epoch === position.epoch && floor.offset >= position.offset) continue;
      this.setFloor(ws, room, position);
      send(ws, gap);
      send(ws, placed);
    }
  }

  private setUnplaced(ws: WebSocket, room: string): void {
    let rooms = this.unplaced.get(ws);
    if (!rooms) {
      rooms = new Set();
      this.unplaced.set(ws, rooms);
      ws.once('close', () => this.unplaced.delete(ws));
    }
    rooms.add(room);
  }

  /** The first positioned frame for a room the connection could not be placed in: its position goes first. */
  private placeBefore(ws: WebSocket, room: string, frame: string): void {
    const rooms = this.unplaced.get(ws);
    if (!rooms?.delete(room)) return;
    if (rooms.size === 0) this.unplaced.delete(ws);
    send(ws, positionFrame(room, { offset: offsetOf(frame) - 1, epoch: epochOf(frame) ?? '' }));
  }

  private reported(result: BroadcastResult): BroadcastResult {
    this.observers.delivered(result);
    return result;
  }

  private afterAppend(
    members: () => ReadonlySet<WebSocket>,
    message: RoomMessage,
    appended: AppendResult | DuplicateAppend,
  ): BroadcastResult {
    if ('duplicate' in appended) {
      // Made the first time, and sent to the other nodes then; this node reads it from the stream.
      this.sequence?.recheck(message.room);
      return { sent: 0, skipped: 0, closed: 0 };
    }
    if (!appended.published) this.link.publish({ ...message.bus, frame: appended.frame });
    return this.deliver(members(), message.room, message.payload, message.binary, appended.frame);
  }

  /** `shared`: the read came from a store other nodes write to, over a connection of its own. */
  private replay(ws: WebSocket, room: string, read: ReadResult, held: string[], fresh: boolean, shared = false): void {
    let position = read.position;
    // A first join has nothing to replay; a message held meanwhile is newer than where it starts.
    const firstHeld = held.length > 0 ? offsetOf(held[0] as string) : Number.NaN;
    if (fresh && firstHeld <= position.offset) position = { offset: firstHeld - 1, epoch: position.epoch };
    // A first join has nothing to recover: only a resumed room counts as a recovery.
    if (!fresh) this.observers.recovered('gap' in read ? 'gap' : 'replayed');
    if ('gap' in read) send(ws, gapFrame(room, read.gap));
    else for (const frame of read.frames) send(ws, frame);
    send(ws, positionFrame(room, position));
    let last = position.offset;
    for (const frame of held) {
      const offset = offsetOf(frame);
      if (offset <= last) continue;
      last = offset;
      send(ws, frame);
    }
    if (shared && ws.readyState === 1) this.setFloor(ws, room, { offset: last, epoch: position.epoch });
    if (shared) this.sequence?.placed(room, read.position);
  }

  private setFloor(ws: WebSocket, room: string, floor: Position): void {
    let rooms = this.floors.get(ws);
    if (!rooms) {
      rooms = new Map();
      this.floors.set(ws, rooms);
      ws.once('close', () => this.floors.delete(ws));
    }
    rooms.set(room, floor);
  }

  /** Whether a live frame is newer than what the connection got from its replay; the first that is lifts the floor. */
  private aboveFloor(ws: WebSocket, room: string, frame: string): boolean {
    const rooms = this.floors.get(ws);
    const floor = rooms?.get(room);
    if (rooms === undefined || floor === undefined) return true;
    // A frame of another epoch is past the floor: the room's history started again.
    if (epochOf(frame) === floor.epoch && offsetOf(frame) <= floor.offset) return false;
    rooms.delete(room);
    if (rooms.size === 0) this.floors.delete(ws);
    return true;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

function send(ws: WebSocket, frame: string): void {
  if (ws.readyState === 1) ws.send(frame);
}
