import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Match } from '../router/index.js';
import { onFirstWrite, statusOf } from './first-write.js';
import { writeRejection } from './reject.js';
import type { RequestTarget } from './request-target.js';
import type { Route } from './route.js';
import type { Closable, Identity, UpgradeContext } from './types.js';

/** What a handshake needs from its hub; kept narrow so the two files stay separable. */
export interface HandshakeHost {
  readonly handshakeTimeoutMs: number;
  readonly closing: boolean;
  recordAccepted(route: Route, socket: Duplex, ctx: UpgradeContext): void;
  recordRejected(status: number, reason: string, path: string, route: Route | undefined): void;
  recordAborted(): void;
  reportError(error: unknown, fields: Record<string, unknown>): void;
}

type Phase = 'checking' | 'handling' | 'done';

/**
 * One handshake, from the routed `'upgrade'` event to its answer. Runs the route's checks in the
 * documented order (origin 403, limit 503, authenticate 401), hands the socket to the route once,
 * and makes sure exactly one answer is given: the route's own, a rejection, or a 408 on timeout.
 * A client that goes away meanwhile ends it without calling anything further.
 */
export class Handshake implements UpgradeContext {
  readonly params: Record<string, string>;
  readonly path: string;
  readonly host: string | undefined;
  readonly protocols: readonly string[];
  readonly pattern: string;
  principal: unknown = undefined;
  identity: Identity | undefined = undefined;

  private phase: Phase = 'checking';
  /** The route's library wrote a `101` (or other non-error answer) itself. */
  private switched = false;
  /** The connection is on the route's books. */
  private recorded = false;
  private reservation = false;
  private timer: NodeJS.Timeout | undefined;
  private restoreWrites: (() => void) | undefined;
  private queryCache: URLSearchParams | undefined;
  private readonly rawQuery: string;

  constructor(
    private readonly host_: HandshakeHost,
    private readonly route: Route,
    match: Match<Route>,
    target: RequestTarget,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
  ) {
    this.params = match.params;
    this.path = target.path;
    this.rawQuery = target.rawQuery;
    this.host = target.host;
    this.protocols = target.protocols;
    this.pattern = route.pattern;
  }

  get query(): URLSearchParams {
    this.queryCache ??= new URLSearchParams(this.rawQuery);
    return this.queryCache;
  }

  start(): void {
    this.socket.once('close', this.onSocketClose);
    this.timer = setTimeout(this.onTimeout, this.host_.handshakeTimeoutMs);
    this.timer.unref();

    const { options } = this.route;
    if (options.origins !== undefined && !originAllowed(options.origins, this.req.headers.origin)) {
      this.reject(403, 'origin not allowed');
      return;
    }
    if (options.maxConnections !== undefined && this.route.connections.size + this.route.reserved >= options.maxConnections) {
      this.reject(503, 'route is at its connection limit', { 'Retry-After': 5 });
      return;
    }
    this.route.reserved++;
    this.reservation = true;

    if (!options.authenticate) {
      this.handOver();
      return;
    }
    let result: unknown;
    try {
      result = options.authenticate(this.req);
    } catch (error) {
      this.authenticationFailed(error);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (principal) => this.authenticated(principal),
        (error) => this.authenticationFailed(error),
      );
    } else {
      this.authenticated(result);
    }
  }

  accept(connection?: Closable): void {
    if (this.recorded) {
      // Recorded from the 101 alone; the library now tells how to close the connection.
      if (connection && this.route.connections.has(this.socket)) this.route.connections.set(this.socket, connection);
      return;
    }
    if ((this.phase === 'done' && !this.switched) || this.socket.destroyed) return;
    if (this.phase !== 'done') this.finish();
    this.recorded = true;
    this.route.connections.set(this.socket, connection);
    this.host_.recordAccepted(this.route, this.socket, this);
  }

  reject(status: number, reason = 'rejected', headers?: Record<string, string | number>): void {
    if (this.phase === 'done') return;
    this.finish();
    writeRejection(this.socket, status, reason, headers);
    this.host_.recordRejected(status, reason, this.path, this.route);
  }

  private authenticated(principal: unknown): void {
    if (this.phase !== 'checking') return;
    if (principal === null || principal === undefined || principal === false) {
      this.reject(401, 'authentication failed');
      return;
    }
    this.principal = principal;
    this.handOver();
  }

  private authenticationFailed(error: unknown): void {
    if (this.phase !== 'checking') return;
    this.host_.reportError(error, { during: 'authenticate', pattern: this.route.pattern, path: this.path });
    this.reject(401, 'authentication failed');
  }

  private handOver(): void {
    if (this.phase !== 'checking') return;
    if (this.host_.closing) {
      this.reject(503, 'server is shutting down', { 'Retry-After': 5 });
      return;
    }
    const { identify } = this.route.options;
    try {
      if (this.principal !== undefined) {
        this.identity = identify ? (identify(this.principal, this.req) ?? undefined) : ownIdentity(this.principal);
      }
    } catch (error) {
      this.handlerFailed(error, 'identify');
      return;
    }
    this.phase = 'handling';
    this.restoreWrites = onFirstWrite(this.socket, this.onRouteWrite);
    try {
      const result = this.route.handle(this.req, this.socket, this.head, this);
      if (isPromiseLike(result)) result.then(undefined, (error) => this.handlerFailed(error, 'handler'));
    } catch (error) {
      this.handlerFailed(error, 'handler');
    }
  }

  private handlerFailed(error: unknown, during: string): void {
    this.host_.reportError(error, { during, pattern: this.route.pattern, path: this.path });
    if (this.phase !== 'done') this.reject(500, `route ${during} failed`);
  }

  /** The route's library wrote its answer itself: `101`, or its own refusal such as `ws`'s `400`. */
  private readonly onRouteWrite = (chunk: unknown): void => {
    this.restoreWrites = undefined;
    if (this.phase === 'done') return;
    const status = statusOf(chunk);
    if (status !== undefined && status >= 400) {
      this.finish();
      this.host_.recordRejected(status, "refused by the route's library", this.path, this.route);
    } else {
      // Libraries call back with their connection object right after writing the 101 (ws does,
      // synchronously); waiting a microtask lets `ctx.accept(connection)` record it first.
      this.switched = true;
      this.finish();
      queueMicrotask(() => this.accept());
    }
  };

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    this.reject(408, 'handshake was not answered in time');
  };

  private readonly onSocketClose = (): void => {
    if (this.phase === 'done') return;
    this.finish();
    this.host_.recordAborted();
  };

  /** Ends the handshake: no timer, no reservation, no write watching, and no second answer. */
  private finish(): void {
    this.phase = 'done';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.restoreWrites?.();
    this.restoreWrites = undefined;
    this.socket.removeListener('close', this.onSocketClose);
    if (this.reservation) {
      this.reservation = false;
      this.route.reserved--;
    }
  }
}

function originAllowed(
  origins: readonly string[] | ((origin: string | undefined) => boolean),
  origin: string | undefined,
): boolean {
  if (typeof origins === 'function') {
    try {
      return origins(origin) === true;
    } catch {
      return false;
    }
  }
  // Browsers always send Origin on a WebSocket handshake; a client without one is not a browser
  // and could send any value it liked, so a list guards browsers only (cross-site hijacking).
  if (origin === undefined) return true;
  const wanted = origin.toLowerCase();
  return origins.some((allowed) => allowed.toLowerCase().replace(/\/$/, '') === wanted);
}

function ownIdentity(principal: unknown): Identity | undefined {
  if (typeof principal !== 'object' || principal === null) return undefined;
  const { userId, tenantId } = principal as Record<string, unknown>;
  const identity: Identity = {};
  if (typeof userId === 'string' || typeof userId === 'number') identity.userId = String(userId);
  if (typeof tenantId === 'string' || typeof tenantId === 'number') identity.tenantId = String(tenantId);
  return identity.userId === undefined && identity.tenantId === undefined ? undefined : identity;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
