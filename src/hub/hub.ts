import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SwitchboardError } from '../errors.js';
import { type Match, RouteTable } from '../router/index.js';
import type { AdmissionCheck } from './admission.js';
import { type AdoptedEvent, Adoption, HUB_LISTENER, type UpgradeListener } from './adoption.js';
import { callSite } from './call-site.js';
import { ConnectionBooks, type ConnectionEvent } from './connection-books.js';
import { onFirstWrite, statusOf } from './first-write.js';
import { Handshake, type HandshakeHost } from './handshake.js';
import type { Limiter } from './limits.js';
import { RequestInterception } from './long-polling.js';
import { checkRouteOptions, type HubOptions, type ResolvedHubOptions, resolveHubOptions } from './options.js';
import { forgetHub } from './registry.js';
import { writeRejection } from './reject.js';
import { isBadTarget, parseRequestTarget, type RequestTarget } from './request-target.js';
import { type ConnectionHandle, Route, type RouteSpec } from './route.js';
import type { ShadowedEvent } from './shadowing.js';
import type { Closable, CloseOptions, HubStats, RejectEvent, RouteInfo, UpgradeContext } from './types.js';

export type { AdoptedEvent, UpgradeListener } from './adoption.js';
export { HUB_LISTENER } from './adoption.js';
export type { ConnectionEvent } from './connection-books.js';

export interface HubEvents {
  reject: [RejectEvent];
  error: [unknown];
  connection: [ConnectionEvent];
  disconnect: [ConnectionEvent];
  close: [];
  /** An adopted 'upgrade' listener answers every path, so the ones adopted after it never get a handshake. */
  shadowed: [ShadowedEvent];
  /** A handshake no route matched was offered to the adopted (legacy) listeners, and this is how it ended. */
  adopted: [AdoptedEvent];
  /** A user's first connection entered a room anywhere in the cluster (`join`), or the last one left (`leave`). */
  presence: [import('../presence/presence-store.js').PresenceEvent];
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
  /** Foreign 'upgrade' listeners given the handshakes no route takes, in order; see `adopt`. */
  private readonly adoption = new Adoption(this);
  /** Plain HTTP requests of the routes that take them (Socket.IO long-polling). */
  private readonly requests = new RequestInterception(this);
  /** Checks run after a route's own (the per-user policy); see `addAdmissionCheck`. */
  readonly admissionChecks: AdmissionCheck[] = [];
  private readonly books: ConnectionBooks;
  private closed: Promise<void> | undefined;
  /** `'guard'` while only the guard uses this hub, for legacy code; the app's own `switchboard(server)` claims it. */
  private madeBy: 'app' | 'guard';

  constructor(server: Server, options?: HubOptions, extraOptionNames: readonly string[] = [], madeBy: 'app' | 'guard' = 'app') {
    super();
    this.server = server;
    this.options = resolveHubOptions(options, extraOptionNames);
    this.books = new ConnectionBooks(this);
    this.madeBy = madeBy;
    if (madeBy === 'app') this.shortenHeadersTimeout();
    Object.defineProperty(this.onUpgrade, HUB_LISTENER, { value: true });
    server.on('upgrade', this.onUpgrade);
  }

  /** The app asked for this hub itself (`switchboard(server)`): it is the app's from now on, never given back. */
  claim(): void {
    if (this.madeBy === 'app') return;
    this.madeBy = 'app';
    this.shortenHeadersTimeout();
  }

  /**
   * A hub the guard made for legacy code gives the server back once none of that code is left
   * on it (its ws servers closed, its listeners removed): no 'upgrade' listener, no request
   * interception, no registry entry, as if the guard had never been there. Returns true if it did.
   */
  releaseIfUnused(): boolean {
    if (this.madeBy !== 'guard' || this.mounted.length > 0 || this.adoption.size > 0) return false;
    this.server.removeListener('upgrade', this.onUpgrade);
    this.requests.release();
    forgetHub(this.server, this);
    return true;
  }

  /**
   * A handshake whose headers never finish (slowloris) never reaches 'upgrade': Node's own
   * headers timeout closes it. Bring it down to the handshake timeout unless the app chose one.
   * Not for the guard's hubs: legacy code keeps its server exactly as it set it up.
   */
  private shortenHeadersTimeout(): void {
    const server = this.server;
    if (server.headersTimeout === NODE_DEFAULT_HEADERS_TIMEOUT_MS && this.options.handshakeTimeoutMs < server.headersTimeout) {
      server.headersTimeout = this.options.handshakeTimeoutMs;
    }
  }

  get handshakeTimeoutMs(): number {
    return this.options.handshakeTimeoutMs;
  }

  get closing(): boolean {
    return this.closed !== undefined;
  }

  /** The limits on what is open and opening (for the handshakes and requests this hub admits). */
  get limiter(): Limiter {
    return this.books.limiter;
  }

  /** Mounts a route. Throws at once, naming both call sites, when its key is already taken. */
  addRoute(spec: RouteSpec): Route {
    const where = `${spec.kind} route ${JSON.stringify(spec.pattern)}`;
    if (this.closing) {
      throw new SwitchboardError('ERR_HUB_CLOSED', `Cannot add ${where}: this hub was closed with hub.close().`);
    }
    const options = checkRouteOptions(where, spec.options, spec.authenticatesOnConnect);
    if (options.recover && spec.kind !== 'ws') {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `${where}: recover is for ws routes (Socket.IO recovers with its own connectionStateRecovery option).`,
      );
    }
    const route = new Route(spec, options, spec.owner ?? callSite());
    const result = this.table.add({ pattern: spec.pattern, host: options.host, protocol: options.protocol }, route);
    if (!result.added) throw conflictError(result.existing, route);
    if (route.handleRequest) this.requests.add(route);
    this.mounted.push(route);
    return route;
  }

  /**
   * Takes over a foreign `'upgrade'` listener (a library's, or the app's own): instead of racing
   * the hub for every socket, it is offered the handshakes no route takes, after the listeners
   * adopted before it, and only while none of them has answered the socket. A listener already
   * on the server is taken off it first; the hub's own listener is left where it is, so that
   * `server.listeners('upgrade').forEach((listener) => hub.adopt(listener))` adopts the others.
   */
  adopt(
    listener: UpgradeListener,
    owner: string | undefined = callSite(),
    /** Offer it one handshake only, as `server.once('upgrade', listener)` would have. */
    once = false,
  ): void {
    this.adoption.add(listener, owner, once);
  }

  /** Gives an adopted listener up (its code removed it from the server). */
  unadopt(listener: UpgradeListener): boolean {
    return this.adoption.remove(listener);
  }

  /** The adopted listeners, with where their code added them. */
  adoptedListeners(): { owner: string | undefined }[] {
    return this.adoption.owners();
  }

  /** Adds a check run after every route's own checks, once the principal is known. */
  addAdmissionCheck(check: AdmissionCheck): void {
    this.admissionChecks.push(check);
  }

  /** Unmounts a route; its open connections stay open. */
  removeRoute(route: Route): boolean {
    const index = this.mounted.indexOf(route);
    if (index === -1) return false;
    this.mounted.splice(index, 1);
    if (route.handleRequest) this.requests.remove(route);
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
    return this.books.stats();
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
    this.closed = this.books.closeAll(this.mounted, code, reason, timeoutMs).then(() => {
      this.emit('close');
    });
    return this.closed;
  }

  /** Reports an error through `hub.on('error')`, or the logger when nobody listens. Never throws. */
  reportError(error: unknown, fields: Record<string, unknown> = {}): void {
    this.books.errored();
    if (this.listenerCount('error') > 0) {
      if (error instanceof Error) Object.assign(error, { switchboard: fields });
      this.emit('error', error);
    } else {
      this.options.logger.error({ ...fields, err: error }, 'error in a real-time route');
    }
  }

  recordAccepted(route: Route, socket: Duplex, connection: Closable | undefined, ctx: UpgradeContext): void {
    this.trackConnection(route, socket, connection, ctx);
  }

  /** A `101` on a route whose library counts its own sessions (it may continue one). */
  recordSwitched(route: Route): void {
    this.options.logger.debug({ pattern: route.pattern }, 'handshake switched protocols');
  }

  /**
   * Puts an accepted connection on its route's books until `handle` emits `'close'`. Routes whose
   * library keeps sessions (Socket.IO) call this once per session; the hub does it for the others.
   */
  trackConnection(route: Route, handle: ConnectionHandle, connection: Closable | undefined, ctx: UpgradeContext): void {
    this.books.track(route, handle, connection, ctx);
  }

  recordRejected(status: number, reason: string, path: string, route: Route | undefined, startedAt?: number): void {
    this.books.rejected(status, reason, path, route, startedAt);
  }

  recordAborted(): void {
    this.books.aborted();
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.books.upgraded();
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
    const ip = this.limiter.addressIfNeeded(req);
    const match = this.table.match(target);
    // A handshake continuing a session the route admitted (Socket.IO upgrading from polling) is not a new connection.
    const continuing = match?.value.isContinuation?.(req, { query: new URLSearchParams(target.rawQuery) }) ?? false;
    const refusal = ip !== undefined && this.limiter.active && !continuing ? this.limiter.admit(ip) : undefined;
    if (refusal) {
      this.reject(socket, refusal.status, refusal.reason, target.path, refusal.headers);
      return;
    }
    if (match) {
      new Handshake(this, match.value, match, target, ip, req, socket, head).start();
      return;
    }
    if (this.adoption.size > 0) {
      this.adoption.offer(req, socket, head, target.path);
      return;
    }
    if (this.options.unmatched === 'pass' && this.server.listenerCount('upgrade') > 1) {
      socket.removeListener('error', ignoreSocketError);
      return;
    }
    this.answerUnmatched(req, socket, head, target.path, 'no route for this path');
  }

  /**
   * A handshake that no route and no adopted listener takes. Where legacy code mounted by the
   * guard would have been first to see it (a `ws` server with a path answers every other path
   * itself, with its own 400), that library answers, byte for byte as without the guard; else 404.
   */
  answerUnmatched(req: IncomingMessage, socket: Duplex, head: Buffer, path: string, reason: string): void {
    const first = this.mounted.find((route) => route.answerUnmatched !== undefined);
    if (!first?.answerUnmatched) {
      this.reject(socket, 404, reason, path);
      return;
    }
    onFirstWrite(
      socket,
      (chunk) => {
        const status = statusOf(chunk);
        if (status !== undefined && status >= 400) this.recordRejected(status, reason, path, undefined);
      },
      true,
    );
    try {
      first.answerUnmatched(req, socket, head);
    } catch (error) {
      this.reportError(error, { during: 'unmatched handshake', pattern: first.pattern, path });
      if (!socket.destroyed) this.reject(socket, 500, 'route handler failed', path);
    }
  }

  /** Answers a handshake with an HTTP error and counts it (adoption answers through this too). */
  reject(socket: Duplex, status: number, reason: string, path: string, headers?: Record<string, string | number>): void {
    writeRejection(socket, status, reason, headers);
    this.recordRejected(status, reason, path, undefined);
  }
}

/** Node's default `server.headersTimeout`; a different value is the app's choice and is kept. */
const NODE_DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

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
