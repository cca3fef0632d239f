import type { PresenceEvent, PresenceMember } from './presence-store.js';

/**
 * The frames of a route with `presence: true`, in the JSON `sb` format of recovering routes
 * (documented in the README, "Presence"): `{ "sb": "presence", "room", "type": "join" | "leave",
 * "userId", "tenantId"? }` for a transition, and `{ "sb": "presence", "room", "type": "state",
 * "members": [...] }` when the connection enters a room. Socket.IO sockets get the same objects as
 * the event below.
 */
export const PRESENCE_EVENT = 'switchboard:presence';

export function presenceFrame(event: PresenceEvent): string {
  return JSON.stringify({ sb: 'presence', ...event });
}

export function presenceStateFrame(room: string, members: PresenceMember[]): string {
  return JSON.stringify({ sb: 'presence', room, type: 'state', members });
}
