import type { Namespace, Socket } from 'socket.io';
import { type Identity, normalizeIdentity, type Route } from '../hub/index.js';
import type { NamespaceGate } from './socketio-namespace.js';

/** Socket.IO's step that connects a socket whose middlewares passed (or were skipped). */
type DoConnect = (socket: Socket, fn?: (socket: Socket) => void) => void;

/** Socket.IO keeps it private; it is what names a session across its restores. */
const pidOf = (socket: Socket): string | undefined => (socket as unknown as { pid?: string }).pid;

/** Socket.IO's default for how long a dropped session can be restored. */
const DEFAULT_RESTORABLE_MS = 2 * 60_000;

/**
 * Sessions Socket.IO restores (connection-state recovery) without running the namespace's
 * middlewares, as it does by default (`skipMiddlewares`): such a socket comes back in its rooms,
 * with its `socket.data`, but without passing the hub's gate. Each one is put through the gate here,
 * with the identity its first connect ended with, so that it counts against the per-user policy
 * and its rooms show in presence again.
 */
export class RestoredSessions {
  /** Final identities by private session id, while the session can still be restored. */
  private readonly identities = new Map<string, Identity | undefined>();
  /** Sockets whose connect ran the middlewares (and so the gate). */
  private readonly gated = new WeakSet<Socket>();
  private readonly restorableMs: number;
  /** Whether the server restores sessions at all (`connectionStateRecovery`). */
  private readonly restores: boolean;

  constructor(nsp: Namespace) {
    const recovery = (nsp.server as unknown as { opts?: { connectionStateRecovery?: { maxDisconnectionDuration?: number } } })
      .opts?.connectionStateRecovery;
    this.restores = Boolean(recovery);
    this.restorableMs = recovery?.maxDisconnectionDuration ?? DEFAULT_RESTORABLE_MS;
  }

  /** A socket that went through the middlewares, with the identity they left it. */
  gatedWith(socket: Socket, identity: Identity | undefined): void {
    if (!this.restores) return;
    this.gated.add(socket);
    const pid = pidOf(socket);
    if (pid === undefined) return;
    this.identities.set(pid, identity);
    // On the transport, not the socket: no listener the app could count on its socket.
    socket.conn.once('close', () => {
      // Kept while Socket.IO may restore the session, then forgotten (a restore sets it again).
      setTimeout(() => {
        if (this.identities.get(pid) === identity) this.identities.delete(pid);
      }, this.restorableMs).unref();
    });
  }

  /**
   * Puts every restored socket that skipped the middlewares through the gate, before Socket.IO
   * connects it: a refusal reaches the client as any other, a `connect_error` with `err.data`.
   * (Socket.IO's own step, wrapped as the middlewares' run is: no listener the app could see.)
   */
  watch(nsp: Namespace, route: Route, gate: NamespaceGate | undefined): void {
    const internals = nsp as unknown as { _doConnect?: DoConnect };
    const doConnect = internals._doConnect;
    if (!this.restores || !gate || typeof doConnect !== 'function') return;
    internals._doConnect = (socket, fn) => {
      if (!socket.recovered || this.gated.has(socket)) {
        doConnect.call(nsp, socket, fn);
        return;
      }
      const identity = this.identityOf(socket);
      this.gatedWith(socket, identity);
      gate(socket, identity, route, (refused) => {
        const internal = socket as unknown as { _cleanup(): void; _error(error: unknown): void };
        if (socket.conn.readyState !== 'open') {
          internal._cleanup();
          return;
        }
        if (!refused) {
          doConnect.call(nsp, socket, fn);
          return;
        }
        internal._cleanup();
        internal._error({ message: refused.message, data: (refused as { data?: unknown }).data });
      });
    };
  }

  /**
   * The identity a restored session had: remembered here when this node admitted it, else (a
   * session restored on another node) the identity fields of its `socket.data`.
   */
  private identityOf(socket: Socket): Identity | undefined {
    const pid = pidOf(socket);
    if (pid !== undefined && this.identities.has(pid)) return this.identities.get(pid);
    const data = (socket.data ?? {}) as Record<string, unknown>;
    return normalizeIdentity({ userId: data.userId, tenantId: data.tenantId } as Identity);
  }
}
