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

/**
 * Every room's stream, bounded by count and age. Frames are stored whole (the envelope a
 * recovering connection receives), so a replay sends them as they are.
 */
export interface HistoryStore {
  /** Appends to `room`; `frame` builds the stored frame once the message's position is known. */
  append(room: string, frame: (position: Position) => string): { position: Position; frame: string };
  /** The frames after `from`, all of them, or why they cannot all be had (then none is given). */
  since(room: string, from: Position): { frames: string[] } | { gap: GapReason };
  /** Where the room's stream is now (a room nothing was published to is at offset 0). */
  position(room: string): Position;
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
