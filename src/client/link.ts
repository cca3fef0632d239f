import type { Outgoing } from './base-connection.js';
import type { GapInfo, PresenceInfo, RoomMessage } from './recovery-protocol.js';
import type { OutgoingRequest, Settled } from './requests.js';
import type { ConnectionState } from './state.js';
import type { MessageData } from './subscribers.js';

/** How a tab's connection object hears from wherever the socket is held. */
export interface LinkEvents {
  state(state: ConnectionState): void;
  message(data: MessageData, room?: RoomMessage): void;
  gap(gap: GapInfo): void;
  presence(presence: PresenceInfo): void;
  /** A room position the holder learnt (elected tab), kept in case this tab takes over. */
  position(position: RoomMessage): void;
  answer(id: string, outcome: Settled): void;
  /**
   * Whether sends can go to a holder now; while not, the tab queues them itself. `newHolder`: the
   * socket is now held by another tab than before, which knows nothing of this tab's requests.
   */
  ready(ready: boolean, newHolder?: boolean): void;
  /** The link cannot work here (a worker script that did not load); the tab falls back. */
  failed(error: unknown): void;
  error(error: unknown): void;
}

/** The socket's holder, seen from one tab. */
export interface Link {
  send(data: Outgoing): void;
  request(request: OutgoingRequest): void;
  reconnect(): void;
  close(): void;
}
