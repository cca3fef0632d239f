import type { PresenceEvent, PresenceMember } from './presence-store.js';

/**
 * The frames of a route with `presence: true`, in the JSON `sb` format of recovering routes
 * (documented in the README, "Presence"): `{ "sb": "presence", "room", "type": "join" | "leave",
 * "userId", "tenantId"? }` for a transition, and `{ "sb": "presence", "room", "type": "state",
 * "members": [...] }` when the connection enters a room. Socket.IO sockets get the same objects as
 * the event below. `presenceMessage` and `presenceStateMessage` build them.
 */
export const PRESENCE_EVENT = 'switchboard:presence';

/** A transition as the frame (and Socket.IO event) carries it. */
export function presenceMessage(event: PresenceEvent): object {
  return { sb: 'presence', ...event };
}

/** Who is in the room, for a connection that just entered it. */
export function presenceStateMessage(room: string, members: PresenceMember[]): object {
  return { sb: 'presence', room, type: 'state', members };
}
