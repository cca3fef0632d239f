import type { Server as SocketIOServer } from 'socket.io';
import type { AnswerRecord } from '../continuity/answer-record.js';
import type { HistoryOptions, HistoryStore } from '../continuity/history.js';

/** A room's message between the hubs of a cluster. Payloads are strings or base64 (binary). */
export type RoomMessage =
  /** `hub.publish(room, data)`: raw data to the `ws` connections in a room. */
  | { type: 'publish'; room: string; data: WirePayload; frame?: string }
  /** `hub.toUser(id).emit(event, data)`: a `{ event, data }` JSON frame to the `ws` connections in a room. */
  | { type: 'emit'; room: string; event: string; data: unknown; frame?: string }
  /** `hub.disconnectUser(id, reason)`, `target.disconnect()`: close the `ws` connections in a room. */
  | { type: 'disconnect'; room: string; reason: string };

/**
 * A capability's message (presence, the per-user policy, the dashboards): `type` names its kind,
 * the rest is its own, as JSON. The broker carries it without knowing it.
 */
export interface CapabilityMessage {
  type: string;
  [field: string]: unknown;
}

/** What the bus carries between the hubs of a cluster: a room's message or a capability's. */
export type BusMessage = RoomMessage | CapabilityMessage;

export type WirePayload = { text: string } | { base64: string };

/** One hub's membership in a broker. */
export interface BrokerLink {
  /** Unique per hub and process; part of every connection id, so a node knows its own. */
  readonly nodeId: string;
  /** Resolves once the broker can deliver across nodes; rejects with a clear error if it cannot start. */
  readonly ready: Promise<void>;
  /**
   * Sends to the other hubs of the cluster: a room's message (publish, emit, disconnect) to those
   * that follow the room, when the broker routes by room, anything else to all. Never throws;
   * what cannot be sent is counted as dropped.
   */
  publish(message: BusMessage): void;
  /**
   * Routing by room: one member more of `room` on this hub, so the room's messages must reach it.
   * Returns what settles once they do (a subscription confirmed), or undefined if they already do.
   * A broker without it sends every message to every hub.
   */
  follow?(room: string): Promise<void> | undefined;
  /** One member fewer; the broker may stop sending the room here a while after the last. */
  unfollow?(room: string): void;
  /** Who is connected as which user, cluster-wide, for the per-user policy. */
  readonly users: UserRegistry;
  /** Who is in which room, cluster-wide (see presence/). A broker without it has no presence. */
  readonly presence?: import('../presence/presence-store.js').PresenceStore;
  /** Makes a Socket.IO server deliver room emits across nodes (the official adapter, for Redis). */
  attachSocketIO(io: SocketIOServer): void;
  stats(): BrokerStats;
  close(): Promise<void>;
}

export interface BrokerStats {
  /** Messages sent to other nodes. */
  published: number;
  /** Messages received from other nodes. */
  received: number;
  /** Messages that could not be sent (broker unreachable); they reached this node's clients only. */
  dropped: number;
  connected: boolean;
  /** Rooms whose messages this node receives, for a broker that routes by room. */
  rooms?: number;
}

/** A broker: joined once per hub. `memoryBroker()` for one process, `redisBroker()` for many. */
export interface Broker {
  readonly kind: string;
  join(onMessage: (message: BusMessage) => void, onStatus: (status: BrokerStatus) => void): BrokerLink;
  /**
   * The rooms' streams, shared by every hub of the broker (`switchboard(server, { history })`).
   * `frame` in a bus message is the positioned frame of a recovering route, built where it was recorded.
   * A broker without it keeps no history.
   */
  history?(options: HistoryOptions): HistoryStore;
  /** The cluster's record of request answers (see continuity/answer-record.ts); in one process the hub's own suffices. */
  answers?(): AnswerRecord;
}

export type BrokerStatus = { up: true } | { up: false; error: Error };

/**
 * Connections per user and route key, cluster-wide. A connection id is `nodeId/localId`;
 * `add` returns the ids to replace (oldest first) when the policy is `replace-oldest`, or
 * `admitted: false` when `reject` and the user is already at the limit.
 */
export interface UserRegistry {
  count(routeKey: string, userId: string): Promise<number>;
  add(
    routeKey: string,
    userId: string,
    connectionId: string,
    policy: { max: number; onExceed: 'reject' | 'replace-oldest' },
  ): Promise<{ admitted: boolean; replace: string[] }>;
  remove(routeKey: string, userId: string, connectionId: string): Promise<void>;
}

let counter = 0;

/** A node id unique in the cluster: host-independent randomness plus a per-process counter. */
export function newNodeId(): string {
  counter++;
  return `${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 8)}-${counter}`;
}

export function toWire(data: string | Buffer | ArrayBuffer | Uint8Array): WirePayload {
  if (typeof data === 'string') return { text: data };
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  return { base64: buffer.toString('base64') };
}

export function fromWire(payload: WirePayload): { data: Buffer; binary: boolean } {
  return 'text' in payload
    ? { data: Buffer.from(payload.text), binary: false }
    : { data: Buffer.from(payload.base64, 'base64'), binary: true };
}
