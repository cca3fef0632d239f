import type { BrokerLink } from '../cluster/broker.js';
import type { ConnectionDirectory, UserConnection } from './connection-directory.js';

/** What dashboards say to each other over the broker, beside their reports. */
/** The bus message the dashboards' questions and answers travel in. */
export type OperationsBusMessage = { type: 'operations'; message: OperationsMessage };

export type OperationsMessage =
  /** "Which connections of this user do you hold?", answered by every node with a dashboard. */
  | { kind: 'lookup'; request: string; from: string; userId: string }
  | { kind: 'found'; request: string; to: string; node: string; connections: UserConnection[] }
  /** Close one connection: done by the node whose id it starts with. */
  | { kind: 'close'; connectionId: string };

/** How long a lookup waits for the nodes that have not answered yet. */
const LOOKUP_TIMEOUT_MS = 1_500;

/**
 * A user's connections on every node, and closing one of them wherever it is. A lookup asks every
 * node at once and waits until each node the dashboard knows of has answered, or for the timeout:
 * a node that is gone makes a lookup slower, never wrong about the others.
 */
export class UserLookup {
  private readonly pending = new Map<string, { found: UserConnection[]; waitingFor: Set<string>; done: () => void }>();
  private sequence = 0;

  constructor(
    private readonly link: BrokerLink,
    private readonly directory: ConnectionDirectory,
    private readonly otherNodes: () => string[],
  ) {}

  async find(userId: string): Promise<UserConnection[]> {
    const found = this.directory.find(userId);
    const waitingFor = new Set(this.otherNodes());
    if (waitingFor.size === 0) return found;
    const request = `${this.link.nodeId}#${++this.sequence}`;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, LOOKUP_TIMEOUT_MS);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.pending.set(request, { found, waitingFor, done });
      this.link.publish({ type: 'operations', message: { kind: 'lookup', request, from: this.link.nodeId, userId } });
    });
    this.pending.delete(request);
    return found.sort((a, b) => a.openedAt - b.openedAt);
  }

  /** Closes the connection here, or asks the node that holds it; false when it is not open here and named this node. */
  close(connectionId: string): boolean {
    if (this.directory.owns(connectionId)) return this.directory.close(connectionId);
    this.link.publish({ type: 'operations', message: { kind: 'close', connectionId } });
    return true;
  }

  /** A message of another node's dashboard (the bus calls this). */
  heard(message: OperationsMessage): void {
    switch (message.kind) {
      case 'lookup':
        this.link.publish({
          type: 'operations',
          message: {
            kind: 'found',
            request: message.request,
            to: message.from,
            node: this.link.nodeId,
            connections: this.directory.find(message.userId),
          },
        });
        break;
      case 'found': {
        if (message.to !== this.link.nodeId) return;
        const waiting = this.pending.get(message.request);
        if (!waiting) return;
        waiting.found.push(...message.connections);
        waiting.waitingFor.delete(message.node);
        if (waiting.waitingFor.size === 0) waiting.done();
        break;
      }
      case 'close':
        if (this.directory.owns(message.connectionId)) this.directory.close(message.connectionId);
        break;
    }
  }

  stop(): void {
    for (const { done } of this.pending.values()) done();
    this.pending.clear();
  }
}
