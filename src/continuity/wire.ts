import type { FrameParts, GapReason, Position } from './history.js';

/**
 * The frames of a recovering route: JSON text, each an object whose `sb` names it (the key is
 * reserved on such routes). Documented in the README ("Continuity") for clients in any language.
 */
export const HELLO_FRAME = JSON.stringify({ sb: 'hello', recover: true });

/** The first frame of a route that speaks this format: recovering, told of presence, or both. */
export function helloFrame(route: { recover: boolean; presence: boolean }): string {
  if (!route.presence) return HELLO_FRAME;
  return JSON.stringify(route.recover ? { sb: 'hello', recover: true, presence: true } : { sb: 'hello', presence: true });
}

export function positionFrame(room: string, position: Position): string {
  return JSON.stringify({ sb: 'pos', room, offset: position.offset, epoch: position.epoch });
}

/** A room message with its position, in the parts around its offset and epoch; binary data travels as base64. */
export function messageFrameParts(room: string, data: RoomData): FrameParts {
  const rest = data.binary ? { data: data.binary.toString('base64'), encoding: 'base64' } : { data: data.value ?? null };
  return {
    head: `{"sb":"msg","room":${JSON.stringify(room)},"offset":`,
    mid: ',"epoch":"',
    // Epochs are base64url: nothing in them needs escaping.
    tail: `",${JSON.stringify(rest).slice(1)}`,
  };
}

/** The offset of a positioned frame of ours (`"offset":` cannot occur unescaped inside the room's JSON string). */
export function offsetOf(frame: string): number {
  const match = /"offset":(\d+)/.exec(frame);
  return match ? Number(match[1]) : Number.NaN;
}

/** The epoch of a positioned frame of ours (the first `"epoch":"` follows the room's JSON string, which cannot hide one). */
export function epochOf(frame: string): string | undefined {
  return /"epoch":"([^"]*)"/.exec(frame)?.[1];
}

export function gapFrame(room: string, reason: GapReason | 'unknown'): string {
  return JSON.stringify({ sb: 'gap', room, reason });
}

export function answerFrame(id: string, answer: Answer): string {
  return JSON.stringify('error' in answer ? { sb: 'res', id, error: answer.error } : { sb: 'res', id, data: answer.data });
}

export function errorFrame(code: string, message: string): string {
  return JSON.stringify({ sb: 'error', code, message });
}

/** What a room message carries in its envelope: a JSON value, or bytes. */
export type RoomData = { value: unknown; binary?: undefined } | { binary: Buffer; value?: undefined };

export type Answer = { data: unknown } | { error: { message: string; code: string } };

/** The query parameter a client resumes with: base64url of `{ "<room>": [offset, "epoch"] }`. */
export const RESUME_PARAM = 'sb_resume';
/** Longer than any resume a client should send (switchboard/client keeps under 4,096 characters). */
export const MAX_RESUME_LENGTH = 8_192;

/** The positions a reconnecting client gave, or why they could not be read. */
export function parseResume(raw: string | null): Map<string, Position> | { error: string } | undefined {
  if (raw === null || raw === '') return undefined;
  if (raw.length > MAX_RESUME_LENGTH)
    return { error: `the ${RESUME_PARAM} parameter is longer than ${MAX_RESUME_LENGTH} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return { error: `the ${RESUME_PARAM} parameter is not base64url-encoded JSON` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { error: `the ${RESUME_PARAM} parameter must encode an object { "<room>": [offset, "epoch"] }` };
  }
  const positions = new Map<string, Position>();
  for (const [room, value] of Object.entries(parsed)) {
    if (!Array.isArray(value) || !Number.isSafeInteger(value[0]) || value[0] < 0 || typeof value[1] !== 'string') {
      return { error: `the position of room ${JSON.stringify(room)} must be [offset, "epoch"]` };
    }
    positions.set(room, { offset: value[0], epoch: value[1] });
  }
  return positions;
}

/** A client's request frame `{ "sb": "req", "id", "event", "data" }`, if `text` is one. */
export function parseRequest(text: string): { id: string; event: string; data: unknown } | { error: string } | undefined {
  // Cheap checks first: every text message of a connection with requests passes here.
  if (text.charCodeAt(0) !== 123 /* { */ || !text.includes('"sb"')) return undefined;
  let frame: { sb?: unknown; id?: unknown; event?: unknown; data?: unknown };
  try {
    frame = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (frame?.sb !== 'req') return undefined;
  if (typeof frame.id !== 'string' || frame.id.length === 0 || frame.id.length > 128 || typeof frame.event !== 'string') {
    return { error: 'a request needs an id (a string of 1 to 128 characters) and an event (a string)' };
  }
  return { id: frame.id, event: frame.event, data: frame.data };
}
