import { invalidOption } from '../hub/options.js';

/** `switchboard(server, { history })`: how much of each room's stream is kept. */
export interface HistoryOptions {
  /** Messages kept per room (the newest). */
  size: number;
  /** How long a message is kept, in milliseconds. */
  ttlMs: number;
}

/** A place in a room's stream: the offset of its last message, in the epoch of its history. */
export interface Position {
  offset: number;
  /** Changes whenever the room's history was lost (a restarted process, an expired stream). */
  epoch: string;
}

/** Why a room's gap could not be filled: older than the history, or the history itself was lost. */
export type GapReason = 'expired' | 'epoch';

/** A positioned frame in three parts, around its offset and its epoch: `head + offset + mid + epoch + tail`. */
export interface FrameParts {
  head: string;
  mid: string;
  tail: string;
}

/** What a read of a room's stream gives: where it is now, and the frames after the position asked, or why not. */
export type ReadResult = { position: Position; frames: string[] } | { position: Position; gap: GapReason };

/** An append: the message's position and frame, and whether the store sent it to the other nodes too. */
export interface AppendResult {
  position: Position;
  frame: string;
  published: boolean;
}

/**
 * An append that the store had already made: sent again by the client library after a connection
 * reset lost the first answer. Its frame went out the first time; this node reads it from the stream.
 */
export interface DuplicateAppend {
  duplicate: true;
}

/**
 * Every room's stream, bounded by count and age. Frames are stored whole (the envelope a
 * recovering connection receives), so a replay sends them as they are. In-process stores answer
 * at once; shared ones (Redis) answer with a promise.
 */
export interface HistoryStore {
  /**
   * Appends to `room`. A store shared by the nodes may send `bus` (with the frame) to the other
   * nodes in the same step, as one round trip, and then says so with `published`. `seq` grows with
   * each append of the node: a shared store makes each `(nodeId, seq)` once, however often it is sent.
   */
  append(
    room: string,
    parts: FrameParts,
    bus: { nodeId: string; message: object; seq: number },
  ): AppendResult | DuplicateAppend | Promise<AppendResult | DuplicateAppend>;
  /** Where `room` is; with `from`, also every frame after it, or why they cannot all be had (then none). */
  read(room: string, from: Position | undefined): ReadResult | Promise<ReadResult>;
  /** Where `room` is, without changing anything (undefined: the store keeps nothing of it). */
  top?(room: string): Promise<Position | undefined>;
  /**
   * Written by several nodes, whose frames reach each node over more than one connection (so they
   * can arrive out of order, or be lost on the way): each node then keeps its own view in order.
   */
  readonly shared?: boolean;
}

export function frameOf(parts: FrameParts, position: Position): string {
  return `${parts.head}${position.offset}${parts.mid}${position.epoch}${parts.tail}`;
}

export function checkHistoryOptions(history: unknown): HistoryOptions | undefined {
  if (history === undefined) return undefined;
  const valid =
    typeof history === 'object' &&
    history !== null &&
    Object.keys(history).every((name) => name === 'size' || name === 'ttlMs') &&
    Number.isInteger((history as HistoryOptions).size) &&
    (history as HistoryOptions).size >= 1 &&
    Number.isFinite((history as HistoryOptions).ttlMs) &&
    (history as HistoryOptions).ttlMs > 0;
  if (!valid) {
    throw invalidOption(
      `switchboard(server, { history }): expected { size: messages per room >= 1, ttlMs: milliseconds > 0 }, got ${JSON.stringify(history)}.`,
    );
  }
  return history as HistoryOptions;
}

/** The hubs of one broker share its history: a hub that asks for other options than the first one's is refused. */
export function checkSharedHistory(existing: HistoryOptions | undefined, asked: HistoryOptions): void {
  if (existing && (existing.size !== asked.size || existing.ttlMs !== asked.ttlMs)) {
    throw invalidOption(
      `switchboard(server, { history: ${JSON.stringify(asked)} }): the hubs of one broker share its history, ` +
        `which was set up with ${JSON.stringify(existing)}. Give every hub the same history options.`,
    );
  }
}
