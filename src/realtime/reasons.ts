/**
 * What a client is told when the server ends or refuses a connection on purpose, so it can tell
 * "do not come back" apart from a network failure and never reconnect in a loop. WebSocket codes
 * are in the private range 4000-4999.
 */

/** A connection replaced by a newer one of the same user (per-user policy `replace-oldest`). */
export const REPLACED_CLOSE_CODE = 4001;
export const REPLACED_REASON = 'replaced by a newer connection of the same user';

/** A connection over the per-user limit that was admitted by a node at the same moment as another. */
export const PER_USER_LIMIT_CLOSE_CODE = 4002;

/** A connection closed by `hub.disconnectUser(id, reason)`. */
export const DISCONNECTED_CLOSE_CODE = 4003;

/** The close codes after which a client should not reconnect by itself. */
export const DO_NOT_RECONNECT_CODES: readonly number[] = [
  REPLACED_CLOSE_CODE,
  PER_USER_LIMIT_CLOSE_CODE,
  DISCONNECTED_CLOSE_CODE,
];

/** Socket.IO event sent to every socket of a replaced connection just before the server disconnects it. */
export const REPLACED_EVENT = 'switchboard:replaced';

/** `err.data.code` of the Socket.IO `connect_error` a client gets when the per-user limit refuses it. */
export const PER_USER_LIMIT_CODE = 'PER_USER_LIMIT';

export function perUserLimitReason(max: number): string {
  return `too many connections for this user (at most ${max} on this route)`;
}
