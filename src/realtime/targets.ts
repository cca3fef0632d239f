import type { Server as SocketIOServer } from 'socket.io';
import { namespacesOf } from '../adapters/socketio.js';

export interface TargetOptions {
  /** Only this namespace (`'/admin'`); all namespaces of every Socket.IO server of the hub by default. */
  namespace?: string;
}

/** Everything connected as one user or one tenant, across the hub's Socket.IO servers. */
export interface Target {
  /** Emits `event` to every socket in the room; returns whether there was any Socket.IO server to emit through. */
  emit(event: string, ...args: unknown[]): boolean;
  /** Disconnects every socket in the room (the Socket.IO client does not reconnect after this). */
  disconnect(): void;
}

/** A room across Socket.IO servers and namespaces. A namespace that does not exist is not created. */
export function roomTarget(servers: Iterable<SocketIOServer>, room: string, options: TargetOptions = {}): Target {
  const namespaces = () => {
    const found = [];
    for (const io of servers) {
      for (const nsp of namespacesOf(io)) {
        if (options.namespace === undefined || nsp.name === options.namespace) found.push(nsp);
      }
    }
    return found;
  };
  return {
    emit(event, ...args) {
      const targets = namespaces();
      for (const nsp of targets) nsp.to(room).emit(event, ...args);
      return targets.length > 0;
    },
    disconnect() {
      for (const nsp of namespaces()) nsp.in(room).disconnectSockets(true);
    },
  };
}
