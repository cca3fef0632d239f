import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Match } from '../router/index.js';
import { type AdmissionCheck, admit, isPromiseLike, type Verdict } from './admission.js';
import { type EndWatcher, onFirstWrite, statusOf, unwatchEnd, watchEnd } from './first-write.js';
import { writeRejection } from './reject.js';
import type { RequestTarget } from './request-target.js';
import type { Route } from './route.js';
import type { Closable, Identity, UpgradeContext } from './types.js';

/** What a handshake needs from its hub; kept narrow so the two files stay separable. */
export interface HandshakeHost {
  readonly handshakeTimeoutMs: number;
  readonly closing: boolean;
  readonly admissionChecks: readonly AdmissionCheck[];
  recordAccepted(route: Route, socket: Duplex, connection: Closable | undefined, ctx: UpgradeContext): void;
  recordSwitched(route: Route): void;
  recordRejected(status: number, reason: string, path: string, route: Route | undefined, startedAt?: number): void;
  recordAborted(): void;
  reportError(error: unknown, fields: Record<string, unknown>): void;
}

type Phase = 'checking' | 'handling' | 'done';

/**
 * One handshake, from the routed `'upgrade'` event to its answer. Runs the route's checks, hands
 * the socket to the route once, and makes sure exactly one answer is given: the route's own, a
 * rejection, or a 408 on timeout. A client that goes away meanwhile ends it without calling
 * anything further.
 */
export class Handshake implements UpgradeContext, EndWatcher {
  readonly params: Record<string, string>;
  readonly path: string;
  readonly protocols: readonly string[];
  readonly pattern: string;
  principal: unknown = undefined;
  identity: Identity | undefined = undefined;
  /** `performance.now()` when the routed 'upgrade' event arrived, for the handshake duration. */
  readonly startedAt = performance.now();

  private phase: Phase = 'checking';
  /** The route's library wrote a `101` (or other non-error answer) itself. */
  private switched = false;
  /** The connection is on the route's books. */
  private recorded = false;
  private reservation = false;
  private timer: NodeJS.Timeout | undefined;
  private restoreWrites: (() => void) | undefined;
  /** The socket's `end()` is watched with `watchEnd` (the route's library refuses with it). */
  private watchingEnd = false;
  /**
   * Only while the handshake is pending. Its callbacks are made per call and dropped at the
   * answer, not kept as bound fields: the context lives as long as the connection, and per
   * connection they would cost more than the whole rest of it.
   */
  private closeListener: (() => void) | undefined;
  private queryCache: URLSearchParams | undefined;
  private address: string | undefined;
  /** Held only until the handshake is answered: the context outlives it, the request need not. */
  private req: IncomingMessage | undefined;
  private head: Buffer | undefined;

  constructor(
    private readonly hub: HandshakeHost,
    private readonly route: Route,
    match: Match<Route>,
    private readonly target: RequestTarget,
    ip: string | undefined,
    req: IncomingMessage,
    private readonly socket: Duplex,
    head: Buffer,
  ) {
    this.req = req;
    this.head = head;
    this.params = match.params;
    this.path = target.path;
    this.protocols = target.protocols;
    this.pattern = route.pattern;
    this.address = ip;
  }

  get host(): string | undefined {
    return this.target.host;
  }

  get query(): URLSearchParams {
    this.queryCache ??= new URLSearchParams(this.target.rawQuery);
    return this.queryCache;
  }

  /** Read on first use: the socket's address costs a system call most handshakes never need. */
  get ip(): string | undefined {
    this.address ??= (this.socket as Partial<Socket>).remoteAddress;
    return this.address;
  }

  start(): void {
    // A later message of a session the route already admitted (Socket.IO's upgrade with a sid)
    // is the library's to check; the route's own checks ran when the session began.
    const req = this.req as IncomingMessage;
    if (this.route.isContinuation?.(req, this)) this.handOver();
    else {
      admit(
        this.route,
        req,
        this.hub.admissionChecks,
        (verdict) => this.onVerdict(verdict),
        () => this.reserve(),
      );
    }
    // Most handshakes are answered by now (sync checks, and ws writes its 101 at once): only the
    // others need a deadline and a watch on the client. A socket's 'close' is never emitted
    // synchronously, so none is missed by listening only now.
    if (this.phase === 'done') return;
    this.closeListener = () => this.onSocketClose();
    this.socket.once('close', this.closeListener);
    this.timer = setTimeout(timeOut, this.hub.handshakeTimeoutMs, this);
    this.timer.unref();
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
    this.hub.recordAccepted(this.route, this.socket, connection, this);
  }

  reject(status: number, reason = 'rejected', headers?: Record<string, string | number>): void {
    if (this.phase === 'done') return;
    this.finish();
    writeRejection(this.socket, status, reason, headers);
    this.hub.recordRejected(status, reason, this.path, this.route, this.startedAt);
  }

  private reserve(): void {
    this.route.reserved++;
    this.reservation = true;
  }

  private onVerdict(verdict: Verdict): void {
    if (this.phase !== 'checking') return;
    if (!verdict.admitted) {
      if (verdict.error !== undefined) {
        this.hub.reportError(verdict.error, { during: 'checks', pattern: this.route.pattern, path: this.path });
      }
      this.reject(verdict.status, verdict.reason, verdict.headers);
      return;
    }
    this.principal = verdict.principal;
    this.identity = verdict.identity;
    this.handOver();
  }

  private handOver(): void {
    if (this.phase !== 'checking') return;
    if (this.hub.closing) {
      this.reject(503, 'server is shutting down', { 'Retry-After': 5 });
      return;
    }
    this.phase = 'handling';
    // Routes that report every answer through ctx need no watch on the socket (patching a socket's
    // methods costs a shape change per handshake); the others are watched for their first write.
    if (!this.route.reportsRefusals) {
      if (this.route.reportsAcceptance && watchEnd(this.socket, this)) this.watchingEnd = true;
      else this.restoreWrites = onFirstWrite(this.socket, (chunk) => this.onRouteWrite(chunk), this.route.reportsAcceptance);
    }
    try {
      const result = this.route.handle(this.req as IncomingMessage, this.socket, this.head as Buffer, this);
      if (isPromiseLike(result)) result.then(undefined, (error) => this.handlerFailed(error));
    } catch (error) {
      this.handlerFailed(error);
    }
  }

  private handlerFailed(error: unknown): void {
    this.hub.reportError(error, { during: 'handler', pattern: this.route.pattern, path: this.path });
    if (this.phase !== 'done') this.reject(500, 'route handler failed');
  }

  /** @internal The route's library ended the socket (see `watchEnd`). */
  routeEnded(chunk: unknown): void {
    this.watchingEnd = false;
    this.onRouteWrite(chunk);
  }

  /** The route's library wrote its answer itself: `101`, or its own refusal such as `ws`'s `400`. */
  private onRouteWrite(chunk: unknown): void {
    this.restoreWrites = undefined;
    if (this.phase === 'done') return;
    const status = statusOf(chunk);
    if (status !== undefined && status >= 400) {
      this.finish();
      this.hub.recordRejected(status, "refused by the route's library", this.path, this.route, this.startedAt);
    } else if (this.route.tracksOwnConnections) {
      // The library keeps its own books of sessions (Socket.IO); a 101 here may continue one.
      this.finish();
      this.hub.recordSwitched(this.route);
    } else {
      // Libraries call back with their connection object right after writing the 101 (ws does,
      // synchronously); waiting a microtask lets `ctx.accept(connection)` record it first.
      this.switched = true;
      this.finish();
      queueMicrotask(() => this.accept());
    }
  }

  /** @internal The deadline passed (see `timeOut`). */
  expire(): void {
    this.timer = undefined;
    this.reject(408, 'handshake was not answered in time');
  }

  private onSocketClose(): void {
    if (this.phase === 'done') return;
    this.finish();
    this.hub.recordAborted();
  }

  /** Ends the handshake: no timer, no reservation, no write watching, and no second answer. */
  private finish(): void {
    this.phase = 'done';
    this.req = undefined;
    this.head = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.restoreWrites?.();
    this.restoreWrites = undefined;
    if (this.watchingEnd) {
      this.watchingEnd = false;
      unwatchEnd(this.socket);
    }
    if (this.closeListener) this.socket.removeListener('close', this.closeListener);
    this.closeListener = undefined;
    if (this.reservation) {
      this.reservation = false;
      this.route.reserved--;
    }
  }
}

/** A timer callback with its handshake as argument, so that no closure is made per handshake. */
function timeOut(handshake: Handshake): void {
  handshake.expire();
}
