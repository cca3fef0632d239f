import type { WebSocket } from 'ws';
import type { BrokerLink, BusMessage } from '../cluster/broker.js';
import { type BroadcastResult, broadcast, type SlowConsumerPolicy } from '../realtime/broadcast.js';
import { Observers } from '../realtime/observers.js';
import type { AppendResult, HistoryStore, Position, ReadResult } from './history.js';
import {
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
  private readonly floors = new Map<WebSocket, Map<string, number>>();

  constructor(
    private readonly history: HistoryStore | undefined,
    private readonly policy: SlowConsumerPolicy,
    private readonly link: BrokerLink,
    private readonly reportError: (error: unknown, fields: Record<string, unknown>) => void,
    private readonly observers: Observers = new Observers(),
  ) {}

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
        // Nothing can be said of what it missed: a gap, so the app reloads; what was held is newer than that.
        send(ws, gapFrame(room, 'unknown'));
        for (const frame of held) send(ws, frame);
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
    });
    if (!(appended instanceof Promise)) return this.afterAppend(members, message, appended);
    appended.then(
      (result) => this.afterAppend(members, message, result),
      (error) => {
        // Not recorded, so not positioned: the plain form still reaches this node's clients, as without history.
        this.reportError(error, { during: 'history append', room: message.room });
        this.link.publish(message.bus);
        this.deliver(members(), message.room, message.payload, message.binary, undefined);
      },
    );
    return { sent: 0, skipped: 0, closed: 0 };
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
    if (frame === undefined) return this.reported(broadcast(members, payload, binary, this.policy));
    const plain: WebSocket[] = [];
    const positioned: WebSocket[] = [];
    for (const ws of members) {
      if (!this.recovering.has(ws)) plain.push(ws);
      else {
        const held = this.held.size > 0 ? this.held.get(ws)?.get(room) : undefined;
        if (held) held.push(frame);
        else if (this.floors.size === 0 || this.aboveFloor(ws, room, frame)) positioned.push(ws);
      }
    }
    const first = broadcast(plain, payload, binary, this.policy);
    const second = broadcast(positioned, frame, false, this.policy);
    return this.reported({
      sent: first.sent + second.sent,
      skipped: first.skipped + second.skipped,
      closed: first.closed + second.closed,
    });
  }

  private reported(result: BroadcastResult): BroadcastResult {
    this.observers.delivered(result);
    return result;
  }

  private afterAppend(members: () => ReadonlySet<WebSocket>, message: RoomMessage, appended: AppendResult): BroadcastResult {
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
    if (shared && ws.readyState === 1) this.setFloor(ws, room, last);
  }

  private setFloor(ws: WebSocket, room: string, offset: number): void {
    let rooms = this.floors.get(ws);
    if (!rooms) {
      rooms = new Map();
      this.floors.set(ws, rooms);
      ws.once('close', () => this.floors.delete(ws));
    }
    rooms.set(room, offset);
  }

  /** Whether a live frame is newer than what the connection got from its replay; the first that is lifts the floor. */
  private aboveFloor(ws: WebSocket, room: string, frame: string): boolean {
    const rooms = this.floors.get(ws);
    const floor = rooms?.get(room);
    if (rooms === undefined || floor === undefined) return true;
    if (offsetOf(frame) <= floor) return false;
    rooms.delete(room);
    if (rooms.size === 0) this.floors.delete(ws);
    return true;
  }
}

function send(ws: WebSocket, frame: string): void {
  if (ws.readyState === 1) ws.send(frame);
}
