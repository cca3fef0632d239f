import type { Server as SocketIOServer } from 'socket.io';
import { namespacesOf } from '../adapters/socketio.js';

export interface TargetOptions {
  /** Only this Socket.IO namespace (`'/admin'`); by default every namespace and every `ws` connection. */
  namespace?: string;
}

/** Everything connected as one user or one tenant: `ws` connections and Socket.IO sockets, on every node. */
export interface Target {
  /**
   * Socket.IO sockets get `event` with `args`; `ws` connections get the JSON frame
   * `{ "event": event, "data": args[0] }` (`data` is the array of args when there are several).
   */
  emit(event: string, ...args: unknown[]): boolean;
  /** Disconnects them all (Socket.IO clients and Switchboard clients do not reconnect after this). */
  disconnect(reason?: string): void;
}

/** The namespaces of the hub's Socket.IO servers that `options` selects. A missing one is not created. */
export function selectNamespaces(servers: Iterable<SocketIOServer>, options: TargetOptions = {}) {
  const found = [];
  for (const io of servers) {
    for (const nsp of namespacesOf(io)) {
      if (options.namespace === undefined || nsp.name === options.namespace) found.push(nsp);
    }
  }
  return found;
}
