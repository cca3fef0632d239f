import type { WebSocket } from 'ws';
import { type BroadcastResult, broadcast, type SlowConsumerPolicy } from '../realtime/broadcast.js';
import type { HistoryStore, Position } from './history.js';
import {
  errorFrame,
  gapFrame,
  HELLO_FRAME,
  messageFrame,
  parseResume,
  positionFrame,
  RESUME_PARAM,
  type RoomData,
} from './wire.js';

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

  constructor(
    private readonly history: HistoryStore | undefined,
    private readonly policy: SlowConsumerPolicy,
  ) {}

  get enabled(): boolean {
    return this.history !== undefined;
  }

  /** A connection of a recovering route opened: it is told so first, and its resume is read. */
  opened(ws: WebSocket, query: URLSearchParams): void {
    if (!this.history) return;
    ws.send(HELLO_FRAME);
    const resume = parseResume(query.get(RESUME_PARAM));
    if (resume && 'error' in resume) {
      // Nothing of it is used: each room the client had shows as joined afresh, which the client sees as a gap.
      ws.send(errorFrame('ERR_RESUME_INVALID', `${resume.error}; continuity is not restored for any room`));
    }
    this.recovering.set(ws, resume instanceof Map ? resume : new Map());
  }

  /** `ws` was just put in `room`: replay what it missed there (or a gap), then where the room is. */
  joined(ws: WebSocket, room: string): void {
    const resume = this.recovering.get(ws);
    if (!resume || !this.history) return;
    const from = resume.get(room);
    if (from) {
      resume.delete(room);
      const missed = this.history.since(room, from);
      if ('gap' in missed) ws.send(gapFrame(room, missed.gap));
      else for (const frame of missed.frames) ws.send(frame);
    }
    ws.send(positionFrame(room, this.history.position(room)));
  }

  /** Records a room message in the room's stream; returns the frame recovering connections get. */
  record(room: string, data: RoomData): string | undefined {
    return this.history?.append(room, (position) => messageFrame(room, position, data)).frame;
  }

  /**
   * Delivers a room message: the recovering members get `frame` (the message with its position),
   * the others the raw payload as always. Each form is framed once.
   */
  deliver(
    members: ReadonlySet<WebSocket>,
    payload: Buffer | string,
    binary: boolean,
    frame: string | undefined,
  ): BroadcastResult {
    if (frame === undefined) return broadcast(members, payload, binary, this.policy);
    const plain: WebSocket[] = [];
    const positioned: WebSocket[] = [];
    for (const ws of members) (this.recovering.has(ws) ? positioned : plain).push(ws);
    const first = broadcast(plain, payload, binary, this.policy);
    const second = broadcast(positioned, frame, false, this.policy);
    return { sent: first.sent + second.sent, skipped: first.skipped + second.skipped, closed: first.closed + second.closed };
  }
}
