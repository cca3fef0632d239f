import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Closable, RouteInfo, RouteOptions, UpgradeContext, UpgradeHandler } from './types.js';

/** Anything that tells when it is gone: a raw socket, a `ws` WebSocket, an engine.io socket. */
export interface ConnectionHandle {
  on(event: 'close', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** Plain HTTP requests a route takes as well (Socket.IO's long-polling). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, ctx: UpgradeContext) => void;

/** What an adapter gives the hub to mount a route. */
export interface RouteSpec {
  pattern: string;
  /** Shown in `hub.routes()` and in conflicts: `'ws'`, `'socket.io'`, `'handler'`… */
  kind: string;
  options?: RouteOptions;
  handle: UpgradeHandler;
  /** Run by `hub.close()` once the route's connections are gone (e.g. `wss.close()`). */
  dispose?: () => void | Promise<void>;
  /** Overrides the detected call site (the guard knows the user's `new WebSocketServer` line better). */
  owner?: string;
  /** Takes plain HTTP requests under the same pattern too; only such routes see HTTP requests. */
  handleRequest?: RequestHandler;
  /**
   * True for a request that continues a session the route admitted earlier (a Socket.IO poll or
   * upgrade with a `sid`): the route's checks are skipped, the library validates the session.
   */
  isContinuation?: (req: IncomingMessage, ctx: { readonly query: URLSearchParams }) => boolean;
  /** The library reports its connections itself through `hub.trackConnection` (one per session, not per socket). */
  tracksOwnConnections?: boolean;
  /** The route runs `authenticate` on its library's connect when asked to (`authenticateOn: 'connect'`, Socket.IO). */
  authenticatesOnConnect?: boolean;
  /**
   * The route calls `ctx.accept(connection)` as soon as its library switched protocols, and the
   * library writes its own refusals with `end()` (`ws` does both): the hub then watches `end()`
   * only, and an accepted handshake's writes go to the socket untouched.
   */
  reportsAcceptance?: boolean;
  /** With `reportsAcceptance`: the library's refusals come through `ctx.reject` too, so no write is watched at all. */
  reportsRefusals?: boolean;
  /**
   * How the route's library answers a handshake that is not for it, when it would have been the
   * first to see it without the hub (the guard's `ws` servers: `ws` answers another path with its
   * own 400). The first mounted route that has one answers the handshakes no route takes.
   */
  answerUnmatched?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** A mounted route and its live connections. */
export class Route {
  readonly pattern: string;
  readonly kind: string;
  readonly options: RouteOptions;
  readonly handle: UpgradeHandler;
  readonly dispose: (() => void | Promise<void>) | undefined;
  readonly owner: string | undefined;
  readonly handleRequest: RequestHandler | undefined;
  readonly isContinuation: RouteSpec['isContinuation'];
  readonly tracksOwnConnections: boolean;
  readonly reportsAcceptance: boolean;
  readonly reportsRefusals: boolean;
  readonly answerUnmatched: RouteSpec['answerUnmatched'];
  /** Open connections, with how to close each at shutdown (a raw socket is ended otherwise). */
  readonly connections = new Map<ConnectionHandle, Closable | undefined>();
  /** Handshakes past the connection-limit check that have not finished; they count against the limit. */
  reserved = 0;

  constructor(spec: RouteSpec, options: RouteOptions, owner: string | undefined) {
    this.pattern = spec.pattern;
    this.kind = spec.kind;
    this.options = options;
    this.handle = spec.handle;
    this.dispose = spec.dispose;
    this.owner = owner;
    this.handleRequest = spec.handleRequest;
    this.isContinuation = spec.isContinuation;
    this.tracksOwnConnections = spec.tracksOwnConnections ?? false;
    this.reportsAcceptance = spec.reportsAcceptance ?? false;
    this.reportsRefusals = this.reportsAcceptance && (spec.reportsRefusals ?? false);
    this.answerUnmatched = spec.answerUnmatched;
  }

  get host(): string | undefined {
    return this.options.host;
  }

  get protocol(): string | undefined {
    return this.options.protocol;
  }

  info(): RouteInfo {
    const info: RouteInfo = { pattern: this.pattern, kind: this.kind, connections: this.connections.size };
    if (this.host !== undefined) info.host = this.host;
    if (this.protocol !== undefined) info.protocol = this.protocol;
    if (this.owner !== undefined) info.owner = this.owner;
    return info;
  }

  /** How the route is named in messages: pattern, then host and protocol when it has them. */
  describe(): string {
    let text = `${this.kind} route "${this.pattern}"`;
    if (this.host !== undefined) text += ` on host ${this.host}`;
    if (this.protocol !== undefined) text += ` for protocol ${this.protocol}`;
    return text;
  }
}
