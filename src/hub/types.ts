import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Who a connection belongs to, as `identify` returns it. */
export interface Identity {
  userId?: string;
  tenantId?: string;
}

/** Per-route checks and policy, applied before any library sees the socket. */
export interface RouteOptions<Principal = unknown> {
  /** Allowed `Origin` values, or a predicate. Refused → 403. A request without `Origin` (not a browser) passes a list. */
  origins?: readonly string[] | ((origin: string | undefined) => boolean);
  /**
   * Returns the principal, or `null` to refuse (401). May be async; a throw also refuses. `connect`
   * is given on Socket.IO routes with `authenticateOn: 'connect'`, and only there.
   */
  authenticate?: (
    req: IncomingMessage,
    connect?: SocketIOConnect,
  ) => Principal | null | undefined | Promise<Principal | null | undefined>;
  /**
   * Where `authenticate` finds the credentials. `'request'` (default): in the HTTP request (cookie,
   * header, query), checked before any library sees it; on Socket.IO, once per session. `'connect'`
   * (Socket.IO routes only): in the CONNECT packet (`io(url, { auth })`), checked on each namespace
   * connect with `(req, { auth, namespace })`; a refusal is the client's `connect_error`, `err.data.code` 401.
   */
  authenticateOn?: 'request' | 'connect';
  /** Open connections on this route beyond which handshakes get 503. */
  maxConnections?: number;
  /** Only requests for this host (`example.com` or `*.example.com`). */
  host?: string;
  /** Only requests offering this `Sec-WebSocket-Protocol`. */
  protocol?: string;
  /** Maps a principal to its user and tenant; defaults to the principal's own `userId` and `tenantId`. */
  identify?: (principal: Principal, req: IncomingMessage) => Identity | null | undefined;
  /** Per-user connection policy on this route. */
  perUser?: { max: number; onExceed?: 'reject' | 'replace-oldest' };
  /**
   * `ws` routes of a hub with `history`: room messages reach this route's connections with their
   * position, and a client that comes back with its positions gets what it missed (see "Continuity").
   */
  recover?: boolean;
  /**
   * Tell this route's connections who enters and leaves the rooms they are in (`ws`: `sb` frames,
   * `conn.onPresence` of switchboard/client; Socket.IO: the `switchboard:presence` event). See "Presence".
   */
  presence?: boolean;
}

/** What a Socket.IO route with `authenticateOn: 'connect'` gives `authenticate` besides the request. */
export interface SocketIOConnect {
  /** The CONNECT packet's payload: the client's `auth` option, the server's `socket.handshake.auth`. */
  readonly auth: Record<string, unknown>;
  /** The namespace joined: `'/'`, `'/admin'`, or a dynamic namespace's own name. */
  readonly namespace: string;
}

/** Something the hub can close at shutdown; a `ws` WebSocket fits. */
export interface Closable {
  close(code?: number, reason?: string): void;
  terminate?(): void;
}

/** What a route handler learns about the handshake it was given. */
export interface UpgradeContext<Principal = unknown> {
  /** Values of `:name` segments (and `*` for the rest of a prefix match), decoded. */
  readonly params: Record<string, string>;
  /** Request path without query string, as sent. */
  readonly path: string;
  /** Parsed query string. */
  readonly query: URLSearchParams;
  /** Host name, lower case, without port. */
  readonly host: string | undefined;
  /** `Sec-WebSocket-Protocol` values offered by the client. */
  readonly protocols: readonly string[];
  /** The route's pattern. */
  readonly pattern: string;
  /** The client's address (the first `X-Forwarded-For` entry with `limits.trustProxy`). */
  readonly ip: string | undefined;
  /** What `authenticate` returned; `undefined` for a route without it. */
  readonly principal: Principal | undefined;
  /** Who the connection belongs to, from `identify`. */
  readonly identity: Identity | undefined;
  /**
   * Tells the hub the handshake succeeded (a library that writes `101` is noticed without this)
   * and, optionally, how to close the connection at shutdown.
   */
  accept(connection?: Closable): void;
  /** Answers the handshake with an HTTP status and closes the socket. */
  reject(status: number, reason?: string, headers?: Record<string, string | number>): void;
}

export type UpgradeHandler<Principal = unknown> = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  ctx: UpgradeContext<Principal>,
) => void | Promise<void>;

/** A route as `hub.routes()` reports it. */
export interface RouteInfo {
  pattern: string;
  kind: string;
  host?: string;
  protocol?: string;
  /** `file:line:column` of the user's code that registered it. */
  owner?: string;
  connections: number;
}

export interface HubStats {
  /** Every `'upgrade'` event seen. */
  upgrades: number;
  /** Handshakes answered with `101`. */
  accepted: number;
  /** Handshakes answered with an error status, by status. */
  rejected: Record<number, number>;
  /** Handshakes whose client went away before an answer. */
  aborted: number;
  /** Errors reported through `hub.on('error')`. */
  errors: number;
  /** Open connections, all routes together. */
  connections: number;
}

export interface RejectEvent {
  status: number;
  path: string;
  reason: string;
  pattern?: string;
  /** From the routed 'upgrade' event to the refusal, for refusals of a route's handshake. */
  handshakeSeconds?: number;
}

export interface CloseOptions {
  /** WebSocket close code sent to every open connection. Default 1001 (going away). */
  code?: number;
  reason?: string;
  /** Connections still open after this are terminated. Default 5000. */
  timeoutMs?: number;
}
