import type { GapReason, HistoryStore, Position } from './history.js';
import { epochOf, offsetOf } from './wire.js';

/** How long a frame that came early waits for the ones before it before they are read from history. */
export const HOLE_WAIT_MS = 200;
/** How often each followed room's position is compared with the top of its stream. */
export const CHECK_EVERY_MS = 15_000;
/** How long a hole is read for while the history cannot be reached, before it is reported as a gap. */
const GIVE_UP_MS = 10_000;

export interface SequenceOutput {
  /** A positioned frame, in offset order, each once: for this node's recovering members of the room. */
  frame(room: string, frame: string): void;
  /** A hole that cannot be filled: those members are told, and where the room now stands. */
  gap(room: string, reason: GapReason | 'unknown', position: Position): void;
  report(error: unknown, fields: Record<string, unknown>): void;
}

interface Cursor {
  epoch: string;
  /** The offset of the last frame handed on. */
  last: number;
  /** Frames that came before the ones they follow, by offset. */
  early: Map<number, string>;
  timer: NodeJS.Timeout | undefined;
  filling: boolean;
  /** When the history was first found unreachable for the current hole. */
  failingSince: number | undefined;
}

/**
 * This node's view of each room its recovering connections follow, from a shared history (Redis).
 * The room's frames reach the node over two connections (its own appends' answers, the other
 * nodes' over pub/sub), and pub/sub can lose some without a word: a subscriber connection reset
 * (`CLIENT KILL TYPE pubsub`, Redis dropping a slow subscriber, a failover) loses what was sent on
 * it meanwhile. So frames are handed on in offset order, each once; a frame that skips ahead waits
 * a moment for the ones before it, which are then read from the room's stream; and every followed
 * room is compared with the top of its stream after the broker reconnects and every 15 s, in case
 * the lost frames were the last ones. What the stream no longer has is a gap, never a silent hole.
 */
export class RoomSequence {
  private readonly cursors = new Map<string, Cursor>();
  private checker: NodeJS.Timeout | undefined;

  constructor(
    private readonly history: HistoryStore,
    private readonly output: SequenceOutput,
    private readonly holeWaitMs = HOLE_WAIT_MS,
    private readonly checkEveryMs = CHECK_EVERY_MS,
  ) {}

  /** Whether the node follows the room's positions (it has recovering members there). */
  has(room: string): boolean {
    return this.cursors.has(room);
  }

  /** A positioned frame of the room arrived, from this node's append or from another node. */
  accept(room: string, frame: string): void {
    const offset = offsetOf(frame);
    const epoch = epochOf(frame);
    if (Number.isNaN(offset) || epoch === undefined) return;
    let cursor = this.cursors.get(room);
    if (!cursor) {
      // Nothing known before it: it starts the node's view of the room.
      this.cursors.set(room, newCursor(epoch, offset));
      this.startChecking();
      this.output.frame(room, frame);
      return;
    }
    if (epoch !== cursor.epoch) {
      // The room's history was lost (Redis restarted, the stream expired): what came before is gone.
      this.reset(room, cursor, 'epoch', { offset: offset - 1, epoch });
      cursor = this.cursors.get(room) as Cursor;
    }
    if (offset <= cursor.last) return;
    if (offset === cursor.last + 1) {
      cursor.last = offset;
      this.output.frame(room, frame);
      this.drain(room, cursor);
      return;
    }
    cursor.early.set(offset, frame);
    cursor.timer ??= setTimeout(() => {
      cursor.timer = undefined;
      void this.fill(room);
    }, this.holeWaitMs);
  }

  /**
   * A connection was placed in the room at `position` (read from the stream): the node's view starts
   * there if it had none, and a position ahead of it means frames are on their way or lost.
   */
  placed(room: string, position: Position): void {
    const cursor = this.cursors.get(room);
    if (!cursor) {
      this.cursors.set(room, newCursor(position.epoch, position.offset));
      this.startChecking();
      return;
    }
    if (position.epoch !== cursor.epoch || position.offset > cursor.last) this.soon(room, cursor);
  }

  /** Something of the room may have gone by this node (an append made twice): its stream is read soon. */
  recheck(room: string): void {
    const cursor = this.cursors.get(room);
    if (cursor) this.soon(room, cursor);
  }

  /** Where the node's view of the room stands, if it follows it. */
  position(room: string): Position | undefined {
    const cursor = this.cursors.get(room);
    return cursor && { offset: cursor.last, epoch: cursor.epoch };
  }

  /** The node has no recovering member in the room any more. */
  forget(room: string): void {
    const cursor = this.cursors.get(room);
    if (!cursor) return;
    clearTimeout(cursor.timer);
    this.cursors.delete(room);
    if (this.cursors.size === 0) this.stopChecking();
  }

  /** The broker reconnected (or the node was paused): anything sent meanwhile may be lost; every room is read again. */
  resync(): void {
    for (const room of this.cursors.keys()) void this.fill(room);
  }

  close(): void {
    for (const cursor of this.cursors.values()) clearTimeout(cursor.timer);
    this.cursors.clear();
    this.stopChecking();
  }

  private soon(room: string, cursor: Cursor): void {
    cursor.timer ??= setTimeout(() => {
      cursor.timer = undefined;
      void this.fill(room);
    }, this.holeWaitMs);
  }

  /** Hands on the early frames that now follow on. */
  private drain(room: string, cursor: Cursor): void {
    if (cursor.early.size === 0) return;
    for (;;) {
      const next = cursor.early.get(cursor.last + 1);
      if (next === undefined) break;
      cursor.early.delete(cursor.last + 1);
      cursor.last++;
      this.output.frame(room, next);
    }
    for (const offset of cursor.early.keys()) if (offset <= cursor.last) cursor.early.delete(offset);
    if (cursor.early.size === 0) {
      clearTimeout(cursor.timer);
      cursor.timer = undefined;
    }
  }

  /** Reads the room's stream after the node's position: what is missing is handed on, or a gap said. */
  private async fill(room: string): Promise<void> {
    const cursor = this.cursors.get(room);
    if (!cursor || cursor.filling) return;
    cursor.filling = true;
    try {
      const read = await this.history.read(room, { offset: cursor.last, epoch: cursor.epoch });
      if (this.cursors.get(room) !== cursor) return;
      cursor.failingSince = undefined;
      if ('gap' in read) {
        this.reset(room, cursor, read.gap, read.position);
      } else {
        for (const frame of read.frames) {
          const offset = offsetOf(frame);
          if (offset !== cursor.last + 1) continue;
          cursor.last = offset;
          this.output.frame(room, frame);
        }
      }
      const current = this.cursors.get(room) as Cursor;
      this.drain(room, current);
      // Early frames beyond what the stream had when read: read again after they had time to arrive.
      if (current.early.size > 0) this.soon(room, current);
    } catch (error) {
      if (this.cursors.get(room) !== cursor) return;
      cursor.failingSince ??= Date.now();
      if (Date.now() - cursor.failingSince < GIVE_UP_MS) {
        this.soon(room, cursor);
        return;
      }
      this.output.report(error, { during: 'history read for a hole', room });
      // Nothing can be said of the hole: a gap, placed just before the first frame that came after it.
      const first = Math.min(...cursor.early.keys());
      if (Number.isFinite(first)) this.reset(room, cursor, 'unknown', { offset: first - 1, epoch: cursor.epoch });
      cursor.failingSince = undefined;
      this.drain(room, this.cursors.get(room) as Cursor);
    } finally {
      cursor.filling = false;
    }
  }

  /** What came before `position` cannot be had: the members are told, and the view starts again there. */
  private reset(room: string, cursor: Cursor, reason: GapReason | 'unknown', position: Position): void {
    clearTimeout(cursor.timer);
    const next = newCursor(position.epoch, position.offset);
    if (position.epoch === cursor.epoch) {
      for (const [offset, frame] of cursor.early) if (offset > position.offset) next.early.set(offset, frame);
    }
    this.cursors.set(room, next);
    this.output.gap(room, reason, position);
  }

  private startChecking(): void {
    this.checker ??= setInterval(() => void this.check(), this.checkEveryMs).unref();
  }

  private stopChecking(): void {
    clearInterval(this.checker);
    this.checker = undefined;
  }

  /** Compares every followed room with the top of its stream; a room behind is read. */
  private async check(): Promise<void> {
    const top = this.history.top;
    if (!top) return;
    await Promise.all(
      [...this.cursors].map(async ([room, cursor]) => {
        if (cursor.filling || cursor.timer !== undefined) return;
        let position: Position | undefined;
        try {
          position = await top.call(this.history, room);
        } catch {
          return; // Redis away: the reconnect's resync reads every room.
        }
        if (position?.epoch === cursor.epoch && position.offset <= cursor.last) return;
        void this.fill(room);
      }),
    );
  }
}

function newCursor(epoch: string, last: number): Cursor {
  return { epoch, last, early: new Map(), timer: undefined, filling: false, failingSince: undefined };
}
