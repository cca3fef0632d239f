/**
 * The wire format of a route with `recover: true`, as JSON text frames keyed by `sb`. Kept apart
 * from the connection so that what goes over the wire can be read in one place.
 */

/** Query parameter that carries the positions to resume from. */
export const RESUME_PARAM = 'sb_resume';
/** Longest `sb_resume` value sent: URLs much longer than this are refused by proxies and servers. */
export const MAX_RESUME_CHARS = 4096;

/**
 * Why a room's continuity could not be restored. From the server: `expired` (older than the
 * history), `epoch` (the history was lost), `unknown`. Found by the client itself: `epoch` (a live
 * message of another epoch than the room's), `skipped` (a live message past the next offset: the
 * ones in between never came), `unknown` (a position further on than the last one, unannounced).
 */
export type GapReason = 'expired' | 'epoch' | 'skipped' | 'unknown';

/** Continuity for `room` could not be restored: nothing of what it missed was replayed. */
export interface GapInfo {
  room: string;
  reason: GapReason;
}

/** Where a room message sits in its room's stream: the second argument of handlers. */
export interface RoomMessage {
  room: string;
  offset: number;
  epoch: string;
}

/**
 * Who entered or left a room (a route with `presence: true`): `join` when a user's first connection
 * entered it anywhere, `leave` when the last left; `state`, when this connection entered the room,
 * with who was in it then.
 */
export type PresenceInfo =
  | { room: string; type: 'join' | 'leave'; userId: string; tenantId?: string }
  | { room: string; type: 'state'; members: Array<{ userId: string; tenantId?: string; connections: number }> };

export type ServerFrame =
  | { sb: 'hello'; recover?: true; presence?: true }
  | ({ sb: 'presence' } & PresenceInfo)
  | ({ sb: 'pos' } & RoomMessage)
  | ({ sb: 'msg'; data: unknown; encoding?: 'base64' } & RoomMessage)
  | { sb: 'gap'; room: string; reason: Exclude<GapReason, 'skipped'> }
  | { sb: 'res'; id: string; data?: unknown; error?: { message?: string; code?: string } }
  | { sb: 'error'; code?: string; message?: string };

/** A parsed frame with an `sb` key, or undefined for anything else (the app's own messages). */
export function parseControl(data: unknown): { sb: string; [key: string]: unknown } | undefined {
  // Cheap tests first: most frames of a route without recovery are not even JSON objects.
  if (typeof data !== 'string' || !data.startsWith('{') || !data.includes('"sb"')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const sb = (parsed as { sb?: unknown }).sb;
  return typeof sb === 'string' ? (parsed as { sb: string }) : undefined;
}

export function isHello(frame: { sb: string; [key: string]: unknown } | undefined): boolean {
  return frame?.sb === 'hello' && frame.recover === true;
}

/** The first frame of a route that speaks this format at all: recovering, told of presence, or both. */
export function isAnyHello(frame: { sb: string; [key: string]: unknown } | undefined): boolean {
  return frame?.sb === 'hello' && (frame.recover === true || frame.presence === true);
}

/** The presence a `presence` frame carries, if well formed. */
export function presenceOf(frame: { [key: string]: unknown }): PresenceInfo | undefined {
  const { room, type, userId, tenantId, members } = frame;
  if (typeof room !== 'string') return undefined;
  if ((type === 'join' || type === 'leave') && typeof userId === 'string') {
    return typeof tenantId === 'string' ? { room, type, userId, tenantId } : { room, type, userId };
  }
  if (type === 'state' && Array.isArray(members)) return { room, type, members };
  return undefined;
}

/** The room position a `pos` or `msg` frame carries, if well formed. */
export function positionOf(frame: { [key: string]: unknown }): RoomMessage | undefined {
  const { room, offset, epoch } = frame;
  if (typeof room !== 'string' || typeof offset !== 'number' || !Number.isFinite(offset) || typeof epoch !== 'string') {
    return undefined;
  }
  return { room, offset, epoch };
}

export function requestFrame(id: string, event: string, data: unknown): string {
  return JSON.stringify(data === undefined ? { sb: 'req', id, event } : { sb: 'req', id, event, data });
}

/** One `"room":[offset,"epoch"]` member of the resume object, as JSON. */
export function resumeEntry(room: string, offset: number, epoch: string): string {
  return `${JSON.stringify(room)}:[${offset},${JSON.stringify(epoch)}]`;
}

/** Base64url without padding, of the UTF-8 bytes of `text` (room names need not be ASCII). */
export function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** Characters of the unpadded base64 of `bytes` bytes. */
export function base64Length(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}
