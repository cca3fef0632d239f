import type { Server } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import type { Server as SocketIOServer, ServerOptions as SocketIOServerOptions } from 'socket.io';
import type { WebSocketServer } from 'ws';
import { mountHandler } from './adapters/handler.js';
import { mountStandIn, type ServerStandIn } from './adapters/server-stand-in.js';
import { type LegacyMount, mountSocketIO } from './adapters/socketio.js';
import { mountWs, type WsRouteServerOptions } from './adapters/ws.js';
import type { Broker } from './cluster/broker.js';
import { memoryBroker } from './cluster/memory-broker.js';
import { checkHistoryOptions, type HistoryOptions } from './continuity/history.js';
import type { RequestHandler } from './continuity/requests.js';
import { SwitchboardError } from './errors.js';
import {
  type CloseOptions,
  Hub,
  type HubOptions,
  hubFor,
  type Route,
  type RouteOptions,
  type UpgradeHandler,
} from './hub/index.js';
import { invalidOption } from './hub/options.js';
import { type DashboardOptions, type MountedDashboard, mountDashboard } from './operations/dashboard.js';
import { NodeReports } from './operations/node-reports.js';
import { optionalRequire } from './optional-require.js';
import type { Presence } from './presence/presence.js';
import type { PresenceMember } from './presence/presence-store.js';
import {
  type BroadcastResult,
  DEFAULT_SLOW_CONSUMER_POLICY,
  type PublishData,
  Realtime,
  type SlowConsumerPolicy,
  type Target,
  type TargetOptions,
} from './realtime/index.js';

export interface SwitchboardOptions extends HubOptions {
  /** Carries broadcasts between the hubs of several processes. Default: `memoryBroker()` (this process only). */
  broker?: Broker;
  /** What a broadcast does with a recipient that is not reading: `{ maxBufferedBytes: 1 MiB, onSlow: 'close' }`. */
  slowConsumers?: Partial<SlowConsumerPolicy>;
  /** Each room a stream of its last `size` messages, kept `ttlMs`, for routes with `recover: true` (see "Continuity"). */
  history?: HistoryOptions;
  /** Who is in which room, cluster-wide (`hub.presence(room)`, the `'presence'` event). Default `true`. */
  presence?: boolean;
}

/** The hub with its mounts: what `switchboard(server)` returns. */
export class Switchboard extends Hub {
  /** Users, tenants, rooms and the per-user policy, on one node or many. */
  readonly realtime: Realtime;
  /** `close()`'s promise: the connections closed, then the broker left. */
  private leaving: Promise<void> | undefined;
  /** `options.history`, as checked. */
  readonly historyOptions: HistoryOptions | undefined;
  /** This node's reports to the others and theirs (what every node's dashboard shows). */
  readonly nodeReports: NodeReports;
  private shared:
    | {
        io: SocketIOServer;
        options: Partial<SocketIOServerOptions>;
        routeOptions: RouteOptions | undefined;
        /** Mounted by the app with hub.socketio(), not created by hub.io(): its options are its own. */
        appMounted?: boolean;
      }
    | undefined;

  constructor(server: Server, options: SwitchboardOptions = {}, madeBy: 'app' | 'guard' = 'app') {
    super(server, options, ['broker', 'slowConsumers', 'history', 'presence'], madeBy);
    if (options.presence !== undefined && typeof options.presence !== 'boolean') {
      throw invalidOption(
        `switchboard(server, { presence }): presence must be true or false, not ${JSON.stringify(options.presence)}.`,
      );
    }
    const history = checkHistoryOptions(options.history);
    this.historyOptions = history;
    this.realtime = new Realtime(this, {
      broker: checkBroker(options.broker),
      slowConsumers: checkSlowConsumers(options.slowConsumers),
      ...(history && { history }),
      ...(options.presence === false && { presence: false }),
    });
    this.nodeReports = new NodeReports(this);
  }

  /**
   * Closes every connection (see the Hub's close), then leaves the broker: presence says goodbye
   * and the broker's connections close (each step waiting at most 2 s for Redis). Resolves after both.
   */
  override close(options?: CloseOptions): Promise<void> {
    // The same promise for every call, as the Hub's own.
    this.nodeReports.stop();
    this.leaving ??= super.close(options).then(() => this.realtime.finished);
    return this.leaving;
  }

  /** Resolves once the broker can deliver across nodes; rejects with a clear error if it cannot (Redis down at start). */
  ready(): Promise<void> {
    return this.realtime.link.ready;
  }

  /**
   * Puts a `ws` connection in a room; it leaves every room when it closes. Resolves once messages
   * to the room from every node reach it: at once on the memory broker, or when this node was
   * already receiving the room; after a subscription's round trip on Redis otherwise.
   */
  join(ws: import('ws').WebSocket, room: string): Promise<void> {
    return this.realtime.join(ws, room);
  }

  leave(ws: import('ws').WebSocket, room: string): void {
    this.realtime.leave(ws, room);
  }

  /**
   * Sends `data` to every `ws` connection in `room`, on every node, framed once. Strings go as
   * text, Buffers as binary, other objects as JSON text. Returns what this node did.
   */
  publish(room: string, data: PublishData): BroadcastResult {
    return this.realtime.publish(room, data);
  }

  /**
   * Who is in `room`, on every node: one entry per user with an id, with how many of that user's
   * connections are in it (`ws` rooms, user and tenant rooms, Socket.IO rooms alike).
   */
  presence(room: string): Promise<PresenceMember[]> {
    return this.presenceOf('presence', room).members(room);
  }

  /** How many users are in `room`, on every node, without fetching them: for rooms too big to list. */
  presenceCount(room: string): Promise<number> {
    return this.presenceOf('presenceCount', room).count(room);
  }

  private presenceOf(method: string, room: unknown): Presence {
    if (typeof room !== 'string' || room === '') {
      throw invalidOption(`hub.${method}(room): room must be a non-empty string, not ${describe(room)}.`);
    }
    const { presence } = this.realtime;
    if (!presence) {
      throw invalidOption(
        `hub.${method}(): this hub keeps no presence (it was created with { presence: false }, or its broker keeps none).`,
      );
    }
    return presence;
  }

  /** Closes every connection of the user, on every node (`ws`: code 4003 and the reason). */
  disconnectUser(userId: string | number, reason?: string): void {
    this.realtime.disconnectUser(userId, reason);
  }

  /**
   * Mounts the operations page on `pattern`: every node's routes, connections and handshakes,
   * live, with `GET <pattern>/state` as JSON. Refuses to mount without `authenticate` unless
   * `{ insecure: true }`.
   */
  dashboard(pattern: string, options: DashboardOptions = {}): MountedDashboard {
    return mountDashboard(this, pattern, options);
  }

  /** Mounts a `ws` server on `pattern` and returns it (in noServer mode). */
  ws(pattern: string, wssOrOptions?: WebSocketServer | WsRouteServerOptions, routeOptions?: RouteOptions): WebSocketServer {
    if (routeOptions?.recover && !this.realtime.continuity.enabled) {
      throw invalidOption(
        `hub.ws(${JSON.stringify(pattern)}, …, { recover: true }): this hub keeps no history to recover from. ` +
          'Create it with switchboard(server, { history: { size, ttlMs } }).',
      );
    }
    return mountWs(this, pattern, wssOrOptions, routeOptions).wss;
  }

  /**
   * Answers the connection's requests for `event` (`conn.request(event, data)` of switchboard/client):
   * what `handler` returns (or resolves to) is the answer; a thrown error rejects the client's
   * promise with its message and `code`. A request sent again after a reconnect runs it once.
   */
  onRequest(ws: import('ws').WebSocket, event: string, handler: RequestHandler): void {
    if (typeof event !== 'string' || typeof handler !== 'function') {
      throw invalidOption(
        'hub.onRequest(ws, event, handler): expected a ws connection, an event name and a function (data, ctx) => answer.',
      );
    }
    this.realtime.requests.on(ws, event, handler);
  }

  /** Mounts a custom upgrade handler on `pattern`. */
  handle<Principal = unknown>(
    pattern: string,
    handler: UpgradeHandler<Principal>,
    routeOptions?: RouteOptions<Principal>,
  ): Route {
    return mountHandler(this, pattern, handler, routeOptions);
  }

  /**
   * A stand-in for the HTTP server, for a library that adds its own `'upgrade'` listener to the
   * server it is given (Next.js's `httpServer`, Vite's `server.ws.server`, `@fastify/websocket`'s
   * `options.server`): its listeners get the handshakes routed to `pattern`, and nothing else.
   * `.route(pattern, routeOptions)` feeds it from one more route.
   */
  serverFor(pattern: string, routeOptions?: RouteOptions): ServerStandIn {
    return mountStandIn(this, pattern, routeOptions);
  }

  /**
   * Mounts a Socket.IO server created without an HTTP server (`new Server({ path })`): its
   * WebSocket upgrades and long-polling requests under its path reach it. Returns `io`.
   */
  socketio<T extends SocketIOServer>(io: T, routeOptions?: RouteOptions): T {
    this.socketioRoute(io, routeOptions);
    return io;
  }

  /**
   * Mounts `io` as `socketio(io)` does and returns its route, for code that unmounts what it
   * mounted (`removeRoute`, `unmountSocketIO`); `legacy` is the guard's, for a server legacy code attached itself.
   */
  socketioRoute(io: SocketIOServer, routeOptions?: RouteOptions, legacy?: LegacyMount): Route {
    const route = mountSocketIO(this, io, routeOptions, this.realtime.gate, legacy);
    this.realtime.addSocketIO(io, routeOptions?.presence === true);
    return route;
  }

  /** Unmounts a Socket.IO server mounted with `socketioRoute`; a guard's hub with nothing left gives the server back. */
  unmountSocketIO(io: SocketIOServer, route: Route): void {
    this.removeRoute(route);
    this.realtime.removeSocketIO(io);
    this.releaseIfUnused();
  }

  /**
   * The one shared Socket.IO server of this hub, created on the first call and returned on every
   * later one, from any module; services take their own namespace (`hub.io().of('/admin')`).
   * Options given on a later call must equal the first ones.
   */
  io(options?: Partial<SocketIOServerOptions>, routeOptions?: RouteOptions): SocketIOServer {
    const mounted = this.shared?.appMounted ? this.shared.io : this.mountedSocketIO(options?.path ?? DEFAULT_SOCKET_IO_PATH);
    if (mounted && (!this.shared || this.shared.appMounted)) {
      // The app mounted its own server on this path (hub.socketio(new Server(...))): that is the shared one.
      const onlyPath =
        options === undefined || Object.keys(options).every((name) => name === 'path' && options.path === mounted.path());
      if (!onlyPath || routeOptions !== undefined) {
        throw new SwitchboardError(
          'ERR_INVALID_OPTION',
          `hub.io(${describe(options)}): the Socket.IO server on ${mounted.path()} was already mounted with hub.socketio(io), with its own options, ` +
            'and hub.io() returns it. Call hub.io() without options (or with only its path), or give the options where that server is created.',
        );
      }
      this.shared = { io: mounted, options: {}, routeOptions: undefined, appMounted: true };
      return mounted;
    }
    if (this.shared) {
      const sameOptions = options === undefined || isDeepStrictEqual(options, this.shared.options);
      const sameRoute = routeOptions === undefined || isDeepStrictEqual(routeOptions, this.shared.routeOptions);
      if (!sameOptions || !sameRoute) {
        throw new SwitchboardError(
          'ERR_INVALID_OPTION',
          `hub.io(): the shared Socket.IO server already exists with ${sameOptions ? 'other route options' : `options ${describe(this.shared.options)}`}; ` +
            `this call asks for ${sameOptions ? 'different ones' : describe(options)}. There is one shared server per hub: give its options on the first call ` +
            'and call hub.io() without options elsewhere, or create a separate server with hub.socketio(new Server({ path })).',
        );
      }
      return this.shared.io;
    }
    const { Server: SocketIO } = optionalRequire<typeof import('socket.io')>('socket.io', 'hub.io()');
    // Socket.IO adds its defaults to the object it is given; later calls are compared with what the user asked.
    const asked = { ...options };
    const io = new SocketIO(options) as SocketIOServer;
    this.socketio(io, routeOptions);
    this.shared = { io, options: asked, routeOptions };
    return io;
  }

  /** The Socket.IO server this hub serves on `path`, if one is mounted (closed ones are forgotten). */
  private mountedSocketIO(path: string): SocketIOServer | undefined {
    const wanted = path.replace(/\/+$/, '');
    for (const io of this.realtime.ioServers) if (io.path().replace(/\/+$/, '') === wanted) return io;
    return undefined;
  }

  /** Every connection of this user, in every namespace (or `{ namespace }` only). */
  toUser(userId: string | number, options?: TargetOptions): Target {
    return this.realtime.toUser(userId, options);
  }

  /** Every connection of this tenant, in every namespace (or `{ namespace }` only). */
  toTenant(tenantId: string | number, options?: TargetOptions): Target {
    return this.realtime.toTenant(tenantId, options);
  }
}

/**
 * The hub of `server`: created and attached to its `'upgrade'` event on the first call, the same
 * object on every later call from any module. Options given again must agree with the first ones.
 */
export function switchboard(server: Server, options?: SwitchboardOptions): Switchboard {
  let created = false;
  const hub = hubFor(server, (target) => {
    created = true;
    return new Switchboard(target, options);
  });
  if (!created) {
    if (options !== undefined) checkSameOptions(hub, options);
    hub.claim();
  }
  return hub;
}

/**
 * The hub the guard mounts legacy code on: the app's own if it made one, else one that is given
 * back to the server (`releaseIfUnused`) once that code is gone from it.
 */
export function guardHub(server: Server): Switchboard {
  return hubFor(server, (target) => new Switchboard(target, undefined, 'guard'));
}

/** Socket.IO's own default path, which `hub.io()` takes unless told otherwise. */
const DEFAULT_SOCKET_IO_PATH = '/socket.io';

function checkSameOptions(hub: Hub, options: SwitchboardOptions): void {
  if (options.history !== undefined && !isDeepStrictEqual(options.history, (hub as Switchboard).historyOptions)) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `switchboard(server, { history: ${JSON.stringify(options.history)} }): this server's hub already exists with history ` +
        `${JSON.stringify((hub as Switchboard).historyOptions ?? 'off')}. Create the hub once with the options you want.`,
    );
  }
  for (const name of ['unmatched', 'handshakeTimeoutMs'] as const) {
    if (options[name] !== undefined && options[name] !== hub.options[name]) {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `switchboard(server, { ${name}: ${JSON.stringify(options[name])} }): this server's hub already exists with ${name} ` +
          `${JSON.stringify(hub.options[name])}. A server has one hub; create it once with the options you want, ` +
          'and call switchboard(server) without options elsewhere.',
      );
    }
  }
}

function checkBroker(broker: Broker | undefined): Broker {
  if (broker === undefined) return memoryBroker();
  if (typeof broker !== 'object' || broker === null || typeof (broker as Broker).join !== 'function') {
    throw invalidOption(
      "switchboard(server, { broker }): broker must be memoryBroker() or redisBroker({ url }) from 'switchboard/redis'.",
    );
  }
  return broker;
}

function checkSlowConsumers(policy: Partial<SlowConsumerPolicy> | undefined): SlowConsumerPolicy {
  const resolved = { ...DEFAULT_SLOW_CONSUMER_POLICY, ...policy };
  if (!(resolved.maxBufferedBytes > 0) || (resolved.onSlow !== 'close' && resolved.onSlow !== 'skip')) {
    throw invalidOption(
      "switchboard(server, { slowConsumers }): expected { maxBufferedBytes: bytes > 0, onSlow: 'close' | 'skip' }.",
    );
  }
  return resolved;
}

function describe(options: unknown): string {
  try {
    return JSON.stringify(options) ?? 'none';
  } catch {
    return 'that cannot be shown';
  }
}
