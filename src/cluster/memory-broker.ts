import { checkSharedHistory } from '../continuity/history.js';
import { MemoryHistory } from '../continuity/memory-history.js';
import { MemoryPresence } from '../presence/memory-presence.js';
import type { Broker, BrokerLink, BusMessage } from './broker.js';
import { newNodeId } from './broker.js';
import { MemoryUserRegistry } from './memory-users.js';

/**
 * The default broker: the hubs that share one `memoryBroker()` (in one process) exchange
 * messages; a hub alone delivers to its own clients only, which is all one process needs.
 */
export function memoryBroker(): Broker {
  const links = new Set<{ nodeId: string; deliver: (message: BusMessage) => void }>();
  const users = new MemoryUserRegistry();
  const presence = new MemoryPresence();
  let history: MemoryHistory | undefined;
  return {
    kind: 'memory',
    history(options) {
      checkSharedHistory(history?.options, options);
      history ??= new MemoryHistory({ size: options.size, ttlMs: options.ttlMs });
      return history;
    },
    join(onMessage, onStatus): BrokerLink {
      const self = { nodeId: newNodeId(), deliver: onMessage };
      links.add(self);
      const stats = { published: 0, received: 0, dropped: 0 };
      queueMicrotask(() => onStatus({ up: true }));
      return {
        nodeId: self.nodeId,
        ready: Promise.resolve(),
        users,
        presence: presence.forNode(self.nodeId),
        publish(message) {
          for (const link of links) {
            if (link === self) continue;
            stats.published++;
            // Asynchronous like a network broker, so code tested on it does not rely on re-entrancy.
            queueMicrotask(() => link.deliver(message));
          }
        },
        attachSocketIO() {
          // One process: Socket.IO's own in-memory adapter already reaches every socket.
        },
        stats: () => ({ ...stats, connected: true }),
        async close() {
          links.delete(self);
        },
      };
    },
  };
}
