import type { Duplex } from 'node:stream';
import { within } from '../within.js';
import { Limiter } from './limits.js';
import type { ResolvedHubOptions } from './options.js';
import type { ConnectionHandle, Route } from './route.js';
import type { Closable, HubStats, RejectEvent, UpgradeContext } from './types.js';

/** Emitted with every accepted connection; the realtime layer keeps its books from these. */
export interface ConnectionEvent {
  route: Route;
  /** The raw socket for WebSocket routes; the library's session object for routes that track their own. */
  socket: ConnectionHandle;
  /** How the connection is closed (a `ws` WebSocket, an engine.io socket), when the route told. */
  connection: Closable | undefined;
  ctx: UpgradeContext;
  /** From the routed 'upgrade' event to the route's acceptance, where the hub saw both. */
  handshakeSeconds?: number;
}

/** What the books need of their hub: its options, whether it is closing, its events. */
export interface BooksHost {
  readonly options: ResolvedHubOptions;
  readonly closing: boolean;
  reportError(error: unknown, fields: Record<string, unknown>): void;
  emit(event: 'connection' | 'disconnect', connection: ConnectionEvent): boolean;
  emit(event: 'reject', rejection: RejectEvent): boolean;
}

/**
 * A hub's books: its counters, the limits on what is open, every open connection on its route,
 * and how they are all closed when the hub closes.
 */
export class ConnectionBooks {
  readonly limiter: Limiter;
  private readonly counters = { upgrades: 0, accepted: 0, aborted: 0, errors: 0, open: 0 };
  private readonly rejectedByStatus: Record<number, number> = {};
  private whenEmpty: (() => void) | undefined;
  private closeCode = 1001;
  private closeReason = 'server shutting down';

  constructor(private readonly hub: BooksHost) {
    this.limiter = new Limiter(hub.options.limits);
  }

  upgraded(): void {
    this.counters.upgrades++;
  }

  errored(): void {
    this.counters.errors++;
  }

  aborted(): void {
    this.counters.aborted++;
  }

  stats(): HubStats {
    return {
      upgrades: this.counters.upgrades,
      accepted: this.counters.accepted,
      rejected: { ...this.rejectedByStatus },
      aborted: this.counters.aborted,
      errors: this.counters.errors,
      connections: this.counters.open,
    };
  }

  /** Puts an accepted connection on its route's books until `handle` emits `'close'`. */
  track(route: Route, handle: ConnectionHandle, connection: Closable | undefined, ctx: UpgradeContext): void {
    this.counters.accepted++;
    this.counters.open++;
    // Per-address books only when a per-address limit is set: ctx.ip may cost a system call.
    const ip = this.limiter.perAddress ? (ctx.ip ?? 'unknown') : 'unknown';
    this.limiter.opened(ip);
    route.connections.set(handle, connection);
    const event: ConnectionEvent = { route, socket: handle, connection, ctx };
    const { startedAt } = ctx as { startedAt?: number };
    if (startedAt !== undefined) event.handshakeSeconds = (performance.now() - startedAt) / 1000;
    // 'on', not 'once': a connection closes once, and once's wrapper would cost memory per connection.
    handle.on('close', () => {
      route.connections.delete(handle);
      this.counters.open--;
      this.limiter.closed(ip);
      this.hub.emit('disconnect', event);
      if (this.counters.open === 0) this.whenEmpty?.();
    });
    this.hub.emit('connection', event);
    // A handshake that was already past its checks when close() began is closed like the rest.
    if (this.hub.closing) this.closeOne(handle, route.connections.get(handle));
  }

  rejected(status: number, reason: string, path: string, route: Route | undefined, startedAt?: number): void {
    this.rejectedByStatus[status] = (this.rejectedByStatus[status] ?? 0) + 1;
    const event: RejectEvent = { status, path, reason };
    if (route) event.pattern = route.pattern;
    if (startedAt !== undefined) event.handshakeSeconds = (performance.now() - startedAt) / 1000;
    this.hub.options.logger.debug(event, 'handshake rejected');
    this.hub.emit('reject', event);
  }

  /**
   * Closes every open connection of `routes` with `code`, and resolves once all are gone or
   * `timeoutMs` has passed, terminating what is left; then disposes of the routes.
   */
  async closeAll(routes: readonly Route[], code: number, reason: string, timeoutMs: number): Promise<void> {
    this.closeCode = code;
    this.closeReason = reason;
    const drained = new Promise<void>((resolve) => {
      this.whenEmpty = resolve;
    });
    for (const route of routes) {
      for (const [socket, connection] of route.connections) this.closeOne(socket, connection);
    }
    if (this.counters.open > 0) {
      await within(timeoutMs, drained);
      for (const route of routes) {
        for (const [handle, connection] of route.connections) {
          if (connection?.terminate) connection.terminate();
          else (handle as Duplex).destroy?.();
        }
      }
    }
    for (const route of routes) {
      try {
        await route.dispose?.();
      } catch (error) {
        this.hub.reportError(error, { during: 'dispose', pattern: route.pattern });
      }
    }
  }

  private closeOne(handle: ConnectionHandle, connection: Closable | undefined): void {
    try {
      if (connection) connection.close(this.closeCode, this.closeReason);
      else (handle as Duplex).end?.();
    } catch (error) {
      this.hub.reportError(error, { during: 'close' });
      (handle as Duplex).destroy?.();
    }
  }
}
