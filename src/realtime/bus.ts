import type { BrokerLink, CapabilityMessage } from '../cluster/broker.js';

/** The kinds of the real-time layer's own messages (a room's publish, emit and disconnect). */
const ROOM_KINDS = new Set(['publish', 'emit', 'disconnect']);

/**
 * The bus as the capabilities see it: each registers the kinds of message it sends to the hubs of
 * the other nodes (per-user `replace`, `presence`, the dashboards' `report` and `operations`) and
 * hears only those. The broker carries them as they are, knowing none of them.
 */
export class CapabilityBus {
  private readonly handlers = new Map<string, (message: CapabilityMessage) => void>();

  constructor(private readonly link: BrokerLink) {}

  /** Hears every message of `kind` from the other nodes; returns how to stop. One capability per kind. */
  on<M extends CapabilityMessage>(kind: M['type'], handler: (message: M) => void): () => void {
    if (ROOM_KINDS.has(kind)) throw new Error(`bus kind "${kind}" is the real-time layer's own`);
    if (this.handlers.has(kind)) throw new Error(`bus kind "${kind}" is already taken by another capability`);
    const heard = handler as (message: CapabilityMessage) => void;
    this.handlers.set(kind, heard);
    return () => {
      if (this.handlers.get(kind) === heard) this.handlers.delete(kind);
    };
  }

  /** Sends to the other nodes (a message with a `room` goes where that room is followed). Never throws. */
  send(message: CapabilityMessage): void {
    this.link.publish(message);
  }

  /** A message of another node that is not a room's: to the capability of its kind, if this node has it. */
  heard(message: CapabilityMessage): void {
    this.handlers.get(message.type)?.(message);
  }
}

/** Whether a message from the bus is one of the real-time layer's own (a room's), not a capability's. */
export function isRoomKind(type: string): boolean {
  return ROOM_KINDS.has(type);
}
