import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { SwitchboardError } from '../errors.js';
import { type Match, RouteTable } from '../router/index.js';
import { within } from '../within.js';
import { type AdmissionCheck, admit } from './admission.js';
import { callSite } from './call-site.js';
import { onFirstWrite, statusOf } from './first-write.js';
import { Handshake, type HandshakeHost } from './handshake.js';
import { Limiter } from './limits.js';
import { ListenerOffer, NOT_TAKEN } from './listener-offer.js';
import { checkRouteOptions, type HubOptions, type ResolvedHubOptions, resolveHubOptions } from './options.js';
import { forgetHub } from './registry.js';
import { writeRejection } from './reject.js';
import { isBadTarget, parseRequestTarget, type RequestTarget } from './request-target.js';
import { type ConnectionHandle, Route, type RouteSpec } from './route.js';
import { type ShadowedEvent, ShadowWatch } from './shadowing.js';
import type { Closable, CloseOptions, HubStats, RejectEvent, RouteInfo, UpgradeContext } from './types.js';

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

export interface AdoptedEvent {
  path: string;
  /** answered: a listener took it; declined: none did (404); failed: one threw (500); timeout: none answered in time. */
  result: 'answered' | 'declined' | 'failed' | 'timeout';
}

/**
 * The one owner of a server's `'upgrade'` event. Routes each handshake to exactly one route by
 * host, path and protocol, and answers everything it does not hand over with an HTTP status.
 */
export class Hub extends EventEmitter<HubEvents> implements HandshakeHost {
  readonly server: Server;
  readonly options: ResolvedHubOptions;
  private readonly table = new RouteTable<Route>();
  /** Routes that take plain HTTP requests too; a WebSocket-only route never sees one. */
  private readonly httpTable = new RouteTable<Route>();
  private interceptingRequests = false;
  private readonly mounted: Route[] = [];
  /** Foreign 'upgrade' listeners given the handshakes no route takes, in order; see `adopt`. */
  private readonly adopted: AdoptedListener[] = [];
  private readonly shadowWatch = new ShadowWatch<AdoptedListener>();
  /** Checks run after a route's own (the per-user policy); see `addAdmissionCheck`. */
  readonly admissionChecks: AdmissionCheck[] = [];
  private readonly counters = { upgrades: 0, accepted: 0, aborted: 0, errors: 0, open: 0 };
  private readonly rejectedByStatus: Record<number, number> = {};
  private readonly limiter: Limiter;
  private closeCode = 1001;
  private closeReason = 'server shutting down';
  private closed: Promise<void> | undefined;
  private whenEmpty: (() => void) | undefined;
  /** `'guard'` while only the guard uses this hub, for legacy code; the app's own `switchboard(server)` claims it. */
  private madeBy: 'app' | 'guard';
  /** The server's own `emit` (and whether it was an own property) while `interceptRequests` wraps it. */
  private serverEmit: { emit: Server['emit']; own: boolean } | undefined;

  constructor(server: Server, options?: HubOptions, extraOptionNames: readonly string[] = [], madeBy: 'app' | 'guard' = 'app') {
    super();
    this.server = server;
    this.options = resolveHubOptions(options, extraOptionNames);
    this.limiter = new Limiter(this.options.limits);
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
    if (this.madeBy !== 'guard' || this.mounted.length > 0 || this.adopted.length > 0) return false;
    this.server.removeListener('upgrade', this.onUpgrade);
    if (this.serverEmit) {
      const { emit, own } = this.serverEmit;
      if (own) this.server.emit = emit;
      else delete (this.server as Partial<Server>).emit;
      this.serverEmit = undefined;
      this.interceptingRequests = false;
    }
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
    if (route.handleRequest) {
      this.httpTable.add({ pattern: spec.pattern, host: options.host }, route);
      this.interceptRequests();
    }
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
    if (typeof listener !== 'function') {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `hub.adopt(listener): expected an 'upgrade' listener (req, socket, head) => void, got ${listener === null ? 'null' : typeof listener}.`,
      );
    }
    if ((listener as unknown as Record<symbol, unknown>)[HUB_LISTENER]) return;
    if (this.adopted.some((entry) => entry.listener === listener)) return;
    let offeredOnce = once;
    // Still on the server, it would be handed every socket the hub routes as well.
    const onServer = (this.server.rawListeners('upgrade') as UpgradeListener[]).find(
      (entry) => entry === listener || entry.listener === listener,
    );
    if (onServer) {
      this.server.removeListener('upgrade', listener);
      // Added with once(): it is offered one handshake, as the server would have given it one.
      if (onServer !== listener) offeredOnce = true;
    }
    this.adopted.push({ listener: offeredOnce ? this.offeredOnce(listener) : listener, owner });
  }

  private offeredOnce(listener: UpgradeListener): UpgradeListener {
    const hub = this;
    const once = function offeredOnce(this: unknown, ...args: Parameters<UpgradeListener>) {
      hub.unadopt(once);
      // As the server would after its once() listener ran: no 'upgrade' listener left, if none is.
      hub.releaseIfUnused();
      // What it returns (a promise) is how the hub tells when it is done with the socket.
      return listener.apply(this, args);
    } as UpgradeListener;
    once.listener = listener;
    return once;
  }

  /** Gives an adopted listener up (its code removed it from the server). */
  unadopt(listener: UpgradeListener): boolean {
    const index = this.adopted.findIndex((entry) => entry.listener === listener || entry.listener.listener === listener);
    if (index === -1) return false;
    this.adopted.splice(index, 1);
    return true;
  }

  /** The adopted listeners, with where their code added them. */
  adoptedListeners(): { owner: string | undefined }[] {
    return this.adopted.map(({ owner }) => ({ owner }));
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
    if (route.handleRequest) this.httpTable.remove({ pattern: route.pattern, host: route.host });
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
      this.emit('disconnect', event);
      if (this.counters.open === 0) this.whenEmpty?.();
    });
    this.emit('connection', event);
    // A handshake that was already past its checks when close() began is closed like the rest.
    if (this.closing) this.closeOne(handle, route.connections.get(handle));
  }

  recordRejected(status: number, reason: string, path: string, route: Route | undefined, startedAt?: number): void {
    this.rejectedByStatus[status] = (this.rejectedByStatus[status] ?? 0) + 1;
    const event: RejectEvent = { status, path, reason };
    if (route) event.pattern = route.pattern;
    if (startedAt !== undefined) event.handshakeSeconds = (performance.now() - startedAt) / 1000;
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
    if (this.adopted.length > 0) {
      this.offerToAdopted(req, socket, head, target.path);
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
  private answerUnmatched(req: IncomingMessage, socket: Duplex, head: Buffer, path: string, reason: string): void {
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

  /**
   * Offers an unrouted handshake to the adopted listeners in order, each once the one before it
   * has left the socket alone (see `ListenerOffer` for how that is told), so that no listener is
   * handed a socket another already took. When all of them have declined it, the client gets 404
   * at once; while one may still answer (it took the socket, is still working on its promise, or
   * started asynchronous work it returned nothing for), the handshake timeout is the last resort.
   */
  private offerToAdopted(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    // A copy: a listener adopted with once() leaves the list when it is called.
    const listeners = [...this.adopted];
    const offer = new ListenerOffer(socket, listeners, {
      call: ({ listener }) => listener.call(this.server, req, socket, head),
      error: (error, { owner }) => this.reportError(error, { during: 'adopted upgrade listener', owner, path }),
      verdict: (verdict) => {
        if (verdict === 'pending') return;
        settled = true;
        clearTimeout(timer);
        if (verdict === 'answered' && this.adopted.length > 1) {
          const shadowed = this.shadowWatch.answered(listeners, offer.offered - 1, path, this.adopted);
          if (shadowed) this.emit('shadowed', shadowed);
        }
        if (verdict === 'declined') this.answerUnmatched(req, socket, head, path, NOT_TAKEN);
        else if (verdict === 'failed') this.reject(socket, 500, 'upgrade listener failed', path);
        this.emit('adopted', { path, result: verdict });
      },
    });
    offer.start();
    if (settled) return;
    timer = setTimeout(() => {
      offer.stop();
      if (offer.isAnswered) {
        this.emit('adopted', { path, result: 'answered' });
        return;
      }
      if (offer.working) this.reject(socket, 408, 'handshake was not answered in time', path);
      else this.answerUnmatched(req, socket, head, path, NOT_TAKEN);
      this.emit('adopted', { path, result: offer.working ? 'timeout' : 'declined' });
    }, this.options.handshakeTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private reject(socket: Duplex, status: number, reason: string, path: string, headers?: Record<string, string | number>): void {
    writeRejection(socket, status, reason, headers);
    this.recordRejected(status, reason, path, undefined);
  }

  /**
   * Serves the plain HTTP requests of routes that take them (Socket.IO long-polling) before the
   * app's own request listeners see them. The server's `emit` is wrapped rather than its listeners
   * reordered, so listeners added later (an app attached after the hub) are covered as well, and
   * every request no such route takes reaches the app untouched, its 404s included.
   */
  private interceptRequests(): void {
    if (this.interceptingRequests) return;
    this.interceptingRequests = true;
    const server = this.server;
    const emit = server.emit;
    this.serverEmit = { emit, own: Object.hasOwn(server, 'emit') };
    const hub = this;
    server.emit = function emitThroughHub(this: Server, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'request' && hub.takeRequest(args[0] as IncomingMessage, args[1] as ServerResponse)) return true;
      return (emit as (event: string | symbol, ...args: unknown[]) => boolean).call(this, event, ...args);
    } as Server['emit'];
  }

  /** Returns false for a request no HTTP-taking route matches, which then goes to the app. */
  private takeRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const target = parseRequestTarget(req);
    if (isBadTarget(target)) return false;
    const match = this.httpTable.match({ path: target.path, host: target.host });
    if (!match) return false;
    const route = match.value;
    const ctx = requestContext(route, match.params, target, req, this.limiter.addressIfNeeded(req), (status, reason, headers) => {
      this.rejectRequest(res, status, reason, headers, target.path, route);
    });
    const serve = () => {
      try {
        route.handleRequest?.(req, res, ctx);
      } catch (error) {
        this.reportError(error, { during: 'request handler', pattern: route.pattern, path: target.path });
        if (!res.headersSent) this.rejectRequest(res, 500, 'route handler failed', {}, target.path, route);
      }
    };
    // CORS preflights carry no credentials, and a continuing session was checked when it began.
    if (req.method === 'OPTIONS' || route.isContinuation?.(req, ctx)) {
      serve();
      return true;
    }
    if (this.closing) {
      this.rejectRequest(res, 503, 'server is shutting down', { 'Retry-After': 5 }, target.path, route);
      return true;
    }
    const refusal = this.limiter.active ? this.limiter.admit(ctx.ip ?? 'unknown') : undefined;
    if (refusal) {
      this.rejectRequest(res, refusal.status, refusal.reason, refusal.headers, target.path, route);
      return true;
    }
    admit(route, req, this.admissionChecks, (verdict) => {
      if (!verdict.admitted) {
        if (verdict.error !== undefined)
          this.reportError(verdict.error, { during: 'checks', pattern: route.pattern, path: target.path });
        this.rejectRequest(res, verdict.status, verdict.reason, verdict.headers ?? {}, target.path, route);
        return;
      }
      ctx.principal = verdict.principal;
      ctx.identity = verdict.identity;
      if (!res.destroyed) serve();
    });
    return true;
  }

  private rejectRequest(
    res: ServerResponse,
    status: number,
    reason: string,
    headers: Record<string, string | number>,
    path: string,
    route: Route,
  ): void {
    if (!res.headersSent) {
      const body = `${status} ${STATUS_CODES[status] ?? 'Error'}: ${reason}\n`;
      res.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        ...headers,
      });
      res.end(body);
    }
    this.recordRejected(status, reason, path, route);
  }

  private closeOne(handle: ConnectionHandle, connection: Closable | undefined): void {
    try {
      if (connection) connection.close(this.closeCode, this.closeReason);
      else (handle as Duplex).end?.();
    } catch (error) {
      this.reportError(error, { during: 'close' });
      (handle as Duplex).destroy?.();
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
      await within(timeoutMs, drained);
      for (const route of this.mounted) {
        for (const [handle, connection] of route.connections) {
          if (connection?.terminate) connection.terminate();
          else (handle as Duplex).destroy?.();
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

/** The context of a plain HTTP request: the same facts as a handshake's, minus protocols. */
function requestContext(
  route: Route,
  params: Record<string, string>,
  target: RequestTarget,
  req: IncomingMessage,
  /** Known when a limit needed it; else read from the socket if the route asks (as a handshake's). */
  knownIp: string | undefined,
  reject: (status: number, reason: string, headers: Record<string, string | number>) => void,
): UpgradeContext & { principal: unknown; identity: UpgradeContext['identity'] } {
  let query: URLSearchParams | undefined;
  let ip = knownIp;
  return {
    params,
    path: target.path,
    get query() {
      query ??= new URLSearchParams(target.rawQuery);
      return query;
    },
    host: target.host,
    protocols: [],
    pattern: route.pattern,
    get ip() {
      ip ??= req.socket.remoteAddress;
      return ip;
    },
    principal: undefined,
    identity: undefined,
    accept() {},
    reject(status, reason = 'rejected', headers = {}) {
      reject(status, reason, headers);
    },
  };
}

/** Node's default `server.headersTimeout`; a different value is the app's choice and is kept. */
const NODE_DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

/** Marks the hub's own 'upgrade' listener, which the guard must let through to the server. */
export const HUB_LISTENER = Symbol.for('switchboard.hubListener');

/**
 * A Node `'upgrade'` listener; `.listener` is set on the wrappers `once` makes. It may return a
 * promise (an async function does): adopted, it is then taken to be done with the socket once the
 * promise settles.
 */
export type UpgradeListener = ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) & { listener?: unknown };

interface AdoptedListener {
  listener: UpgradeListener;
  owner: string | undefined;
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
