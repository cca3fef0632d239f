import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SwitchboardError } from '../errors.js';
import { type Match, RouteTable } from '../router/index.js';
import { callSite } from './call-site.js';
import { Handshake, type HandshakeHost } from './handshake.js';
import { checkRouteOptions, type HubOptions, type ResolvedHubOptions, resolveHubOptions } from './options.js';
import { writeRejection } from './reject.js';
import { isBadTarget, parseRequestTarget, type RequestTarget } from './request-target.js';
import { Route, type RouteSpec } from './route.js';
import type { CloseOptions, HubStats, RejectEvent, RouteInfo, UpgradeContext } from './types.js';

/** Emitted with every accepted connection; the realtime layer keeps its books from these. */
export interface ConnectionEvent {
  route: Route;
  socket: Duplex;
  ctx: UpgradeContext;
}

export interface HubEvents {
  reject: [RejectEvent];
  error: [unknown];
  connection: [ConnectionEvent];
  disconnect: [ConnectionEvent];
  close: [];
}

/**
 * The one owner of a server's `'upgrade'` event. Routes each handshake to exactly one route by
 * host, path and protocol, and answers everything it does not hand over with an HTTP status.
 */
export class Hub extends EventEmitter<HubEvents> implements HandshakeHost {
  readonly server: Server;
  readonly options: ResolvedHubOptions;
  private readonly table = new RouteTable<Route>();
  private readonly mounted: Route[] = [];
  private readonly counters = { upgrades: 0, accepted: 0, aborted: 0, errors: 0, open: 0 };
  private readonly rejectedByStatus: Record<number, number> = {};
  private closeCode = 1001;
  private closeReason = 'server shutting down';
  private closed: Promise<void> | undefined;
  private whenEmpty: (() => void) | undefined;

  constructor(server: Server, options?: HubOptions, extraOptionNames: readonly string[] = []) {
    super();
    this.server = server;
    this.options = resolveHubOptions(options, extraOptionNames);
    server.on('upgrade', this.onUpgrade);
  }

  get handshakeTimeoutMs(): number {
    return this.options.handshakeTimeoutMs;
  }

  get closing(): boolean {
    return this.closed !== undefined;
  }

  /** Mounts a route. Throws at once, naming both call sites, when its key is already taken. */
  addRoute(spec: RouteSpec): Route {
    const where = `${spec.kind} route ${JSON.stringify(spec.pattern)}`;
    if (this.closing) {
      throw new SwitchboardError('ERR_HUB_CLOSED', `Cannot add ${where}: this hub was closed with hub.close().`);
    }
    const options = checkRouteOptions(where, spec.options);
    const route = new Route(spec, options, spec.owner ?? callSite());
    const result = this.table.add({ pattern: spec.pattern, host: options.host, protocol: options.protocol }, route);
    if (!result.added) throw conflictError(result.existing, route);
    this.mounted.push(route);
    return route;
  }

  /** Unmounts a route; its open connections stay open. */
  removeRoute(route: Route): boolean {
    const index = this.mounted.indexOf(route);
    if (index === -1) return false;
    this.mounted.splice(index, 1);
    return this.table.remove({ pattern: route.pattern, host: route.host, protocol: route.protocol });
  }

  /** The route a request would reach, without handling it. */
  match(req: IncomingMessage): (Match<Route> & { target: RequestTarget }) | undefined {
    const target = parseRequestTarget(req);
    if (isBadTarget(target)) return undefined;
    const match = this.table.match(target);
    return match && { ...match, target };
  }

  routes(): RouteInfo[] {
    return this.mounted.map((route) => route.info());
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

  /**
   * Stops accepting (new handshakes get 503), closes every open connection with `code`, and
   * resolves once all are gone or `timeoutMs` has passed, terminating what is left.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.closed) return this.closed;
    const { code = 1001, reason = 'server shutting down', timeoutMs = 5_000 } = options;
    if (!isValidCloseCode(code)) {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `hub.close(): code ${String(code)} is not a close code a server may send; use 1000, 1001, 1011-1014 or 3000-4999.`,
      );
    }
    this.closeCode = code;
    this.closeReason = reason;
    this.closed = this.shutDown(timeoutMs);
    return this.closed;
  }

  /** Reports an error through `hub.on('error')`, or the logger when nobody listens. Never throws. */
  reportError(error: unknown, fields: Record<string, unknown> = {}): void {
    this.counters.errors++;
    if (this.listenerCount('error') > 0) {
      if (error instanceof Error) Object.assign(error, { switchboard: fields });
      this.emit('error', error);
    } else {
      this.options.logger.error({ ...fields, err: error }, 'error in a real-time route');
    }
  }

  recordAccepted(route: Route, socket: Duplex, ctx: UpgradeContext): void {
    this.counters.accepted++;
    this.counters.open++;
    const event: ConnectionEvent = { route, socket, ctx };
    socket.once('close', () => {
      route.connections.delete(socket);
      this.counters.open--;
      this.emit('disconnect', event);
      if (this.counters.open === 0) this.whenEmpty?.();
    });
    this.emit('connection', event);
    // A handshake that was already past its checks when close() began is closed like the rest.
    if (this.closing) this.closeOne(socket, route.connections.get(socket));
  }

  recordRejected(status: number, reason: string, path: string, route: Route | undefined): void {
    this.rejectedByStatus[status] = (this.rejectedByStatus[status] ?? 0) + 1;
    const event: RejectEvent = { status, path, reason };
    if (route) event.pattern = route.pattern;
    this.options.logger.debug(event, 'handshake rejected');
    this.emit('reject', event);
  }

  recordAborted(): void {
    this.counters.aborted++;
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.counters.upgrades++;
    // From the first moment: a client reset must never become an unhandled 'error' event.
    socket.on('error', ignoreSocketError);
    try {
      this.route(req, socket, head);
    } catch (error) {
      // Nothing below is meant to throw; if it does, the socket still gets an answer.
      this.reportError(error, { during: 'routing', url: req.url });
      writeRejection(socket, 500, 'internal error');
      this.recordRejected(500, 'internal error', req.url ?? '', undefined);
    }
  };

  private route(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) {
      this.reject(socket, 503, 'server is shutting down', req.url ?? '', { 'Retry-After': 5 });
      return;
    }
    const target = parseRequestTarget(req);
    if (isBadTarget(target)) {
      this.reject(socket, target.status, target.reason, req.url ?? '');
      return;
    }
    const match = this.table.match(target);
    if (!match) {
      if (this.options.unmatched === 'pass' && this.server.listenerCount('upgrade') > 1) {
        socket.removeListener('error', ignoreSocketError);
        return;
      }
      this.reject(socket, 404, 'no route for this path', target.path);
      return;
    }
    new Handshake(this, match.value, match, target, req, socket, head).start();
  }

  private reject(socket: Duplex, status: number, reason: string, path: string, headers?: Record<string, string | number>): void {
    writeRejection(socket, status, reason, headers);
    this.recordRejected(status, reason, path, undefined);
  }

  private closeOne(socket: Duplex, connection: { close(code?: number, reason?: string): void } | undefined): void {
    try {
      if (connection) connection.close(this.closeCode, this.closeReason);
      else socket.end();
    } catch (error) {
      this.reportError(error, { during: 'close' });
      socket.destroy();
    }
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      this.whenEmpty = resolve;
    });
    for (const route of this.mounted) {
      for (const [socket, connection] of route.connections) this.closeOne(socket, connection);
    }
    if (this.counters.open > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      for (const route of this.mounted) {
        for (const [socket, connection] of route.connections) {
          if (connection?.terminate) connection.terminate();
          else socket.destroy();
        }
      }
    }
    for (const route of this.mounted) {
      try {
        await route.dispose?.();
      } catch (error) {
        this.reportError(error, { during: 'dispose', pattern: route.pattern });
      }
    }
    this.emit('close');
  }
}

function ignoreSocketError(): void {
  // Resets and timeouts of a handshake socket are the client's business; 'close' follows.
}

function conflictError(existing: Route, added: Route): SwitchboardError {
  const first = existing.owner ?? 'an unknown place';
  const second = added.owner ?? 'an unknown place';
  return new SwitchboardError(
    'ERR_ROUTE_CONFLICT',
    `Route conflict: ${added.describe()} at ${second} claims what ${existing.describe()} at ${first} already serves. ` +
      'Each handshake goes to exactly one route: give one of them another path, a host or a protocol, or mount it once and share it.',
  );
}

function isValidCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999))
  );
}
