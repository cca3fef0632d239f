/**
 * What a client is told when the per-user policy acts, so it can tell "do not come back" apart
 * from a network failure and never reconnect in a loop.
 */

/** WebSocket close code for a connection replaced by a newer one of the same user (private range 4000-4999). */
export const REPLACED_CLOSE_CODE = 4001;
export const REPLACED_REASON = 'replaced by a newer connection of the same user';

/** Socket.IO event sent to every socket of a replaced connection just before the server disconnects it. */
export const REPLACED_EVENT = 'switchboard:replaced';

/** `err.data.code` of the Socket.IO `connect_error` a client gets when the per-user limit refuses it. */
export const PER_USER_LIMIT_CODE = 'PER_USER_LIMIT';

export function perUserLimitReason(max: number): string {
  return `too many connections for this user (at most ${max} on this route)`;
}
