import type { ClientEvent, RequestRecord } from './clients.js';
import type { FaultRecord } from './faults.js';
import type { RunRecord } from './nodes.js';
import type { PublishRecord } from './publishers.js';
import type { Lifetime } from './truth.js';

/**
 * The promises checked, in the README's words ("Continuity", "Acknowledged requests", "Recovery
 * and requests", "Presence"), each violation one kind:
 * - `lost`: a message recorded in a room's stream after the client's first position there (within
 *   the epochs it went through) never reached it, and no `onGap` for that room said so in between.
 * - `twice`: the same publish (pub, seq) reached one client twice.
 * - `order`: a room's messages reached a client out of position order (or a publisher's out of
 *   its order, where the positions cannot tell).
 * - `partial-replay`: part of what a client missed was replayed on a new socket (what it delivers
 *   in a room before the room's first `pos` or `gap` there), and then a gap was reported: "nothing
 *   of that room's gap is sent".
 * - `wire-order`: the server sent a room's messages out of position order on one socket (a
 *   message at an offset below one it had already sent), which the client, dropping the late one,
 *   turns into a gap and a message never delivered.
 * - `wrong-payload`, `wrong-room`: a position delivered with another message than the stream
 *   has there; a message delivered as another room's.
 * - `not-joined`: a client that is open at the end never got a position for a room it is in.
 * - `stream-order`, `stream-twice`: the stream itself records a publisher's messages out of order,
 *   or one publish twice (what every client of the room then gets).
 * - `request-unanswered`: a request whose promise never settled.
 * - `request-timeout-connected`: a request timed out while its client had been connected, on one
 *   socket, long enough for any healthy cluster to answer (`answerWindowMs`).
 * - `request-wrong-answer`: the answer of another request.
 * - `request-two-answers`: two different answers sent for one request id ("the client gets one
 *   answer per id"), where none of the README's reasons for a second run applies.
 * - `handler-twice`: a request id whose handler completed twice where none of the README's reasons
 *   for a second run applies (a takeover or an unreachable Redis, both `ctx.duplicateRisk`; a Redis
 *   restart, or a failover after a killed master, between the runs); those are counted as
 *   `handler-twice-documented`.
 * - `not-open`: (checked by the harness) a client not connected again 20 s after everything healed.
 * - `presence`: (checked by the harness, which polls) a node's `presence(room)` never matched the
 *   clients in the room within 30 s of healing.
 */
export type ViolationKind =
  | 'lost'
  | 'twice'
  | 'order'
  | 'partial-replay'
  | 'wire-order'
  | 'wrong-payload'
  | 'wrong-room'
  | 'not-joined'
  | 'stream-order'
  | 'stream-twice'
  | 'request-unanswered'
  | 'request-timeout-connected'
  | 'request-wrong-answer'
  | 'request-two-answers'
  | 'handler-twice'
  | 'not-open'
  | 'presence';

export interface Violation {
  kind: ViolationKind;
  client?: string;
  room?: string;
  detail: string;
}

export interface CheckedClient {
  id: string;
  user: string;
  rooms: string[];
  events: ClientEvent[];
  requests: RequestRecord[];
}

export interface CheckInput {
  recover: boolean;
  rooms: string[];
  lifetimes: Lifetime[];
  clients: CheckedClient[];
  published: PublishRecord[];
  /** Handler runs as the nodes printed them (the lifetimes' lists are added). */
  runs: RunRecord[];
  faults: FaultRecord[];
  /** Connected this long on one socket, a request must have been answered (handler + claim lease + margin). */
  answerWindowMs: number;
  /** Times in lines are shown relative to this. */
  startedAt: number;
}

export interface CheckResult {
  violations: Violation[];
  notes: string[];
  stats: Record<string, number>;
}
