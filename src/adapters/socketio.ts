import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Namespace, Server as SocketIOServer } from 'socket.io';
import { SwitchboardError } from '../errors.js';
import { type Hub, type Route, type RouteOptions, requestContext, setRequestContext, type UpgradeContext } from '../hub/index.js';
import { type NamespaceGate, takePartInConnects } from './socketio-namespace.js';

export type { NamespaceGate } from './socketio-namespace.js';

/**
 * Where `io.attach()` puts engine.io instead of the real server: engine.io (and Socket.IO's
 * client-file serving) listen here exactly as they would on an http.Server, and the hub emits to
 * it only the requests and upgrades it routed to this Socket.IO server. No second listener ever
 * lands on the real server.
 */
class StandInServer extends EventEmitter {
  constructor(private readonly server: import('node:http').Server) {
    super();
  }

  close(callback?: (error?: Error) => void): this {
    callback?.();
    return this;
  }

  /** `io.httpServer.address()` answers as the real server does (the app's code and Socket.IO's helpers ask it). */
  address(): ReturnType<import('node:http').Server['address']> {
    return this.server.address();
  }

  get listening(): boolean {
    return this.server.listening;
  }
}

/** How the guard mounts a Socket.IO server that legacy code attached itself (`new Server(httpServer, opts)`). */
export interface LegacyMount {
  /** The engine.io options given at attach time (`io.attach(srv, opts)`, `io.listen(port, opts)`). */
  engineOptions?: object;
}

/**
 * Mounts a Socket.IO server created without an HTTP server (`new Server({ path })`) on its path:
 * its WebSocket upgrades and its long-polling requests reach it, and nothing else's. The route's
 * checks run once per engine.io session (on the request without a `sid`), authenticate included
 * unless it waits for the CONNECT packet (`authenticateOn: 'connect'`); the principal lands in
 * `socket.data` of every namespace, and sockets join their user's and tenant's rooms.
 */
export function mountSocketIO(
  hub: Hub,
  io: SocketIOServer,
  routeOptions: RouteOptions | undefined,
  gate?: NamespaceGate,
  legacy?: LegacyMount,
): Route {
  if (!isSocketIOServer(io)) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      'hub.socketio(io): expected a Socket.IO Server created without an HTTP server: new Server({ path: "/socket.io" }).',
    );
  }
  // A server the guard mounts may have been attached before and closed (io.close(); io.listen(port)).
  if (io.engine && !legacy) {
    throw new SwitchboardError(
      'ERR_WS_ATTACHED',
      `hub.socketio(io): this Socket.IO server (path ${io.path()}) is already attached to an HTTP server, so it listens to 'upgrade' ` +
        'and to requests by itself and would race the hub. Create it without one, new Server({ path, ...options }), and mount it ' +
        'with hub.socketio(io); or use hub.io() for the shared server; or run unchanged code under the guard ' +
        '(node --import switchboard/register app.js).',
    );
  }
  const standIn = new StandInServer(hub.server);
  // engine.io hands requests it does not take to the listeners it found; under its path that is a 404.
  standIn.on('request', (_req: IncomingMessage, res: import('node:http').ServerResponse) => {
    if (res.headersSent) return;
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`404 Not Found: not a Socket.IO endpoint (this path belongs to the Socket.IO server at ${io.path()})\n`);
  });
  io.attach(standIn as unknown as import('node:http').Server, { ...legacy?.engineOptions });

  const base = io.path().replace(/\/+$/, '');
  const route = hub.addRoute({
    pattern: `${base}/*`,
    kind: 'socket.io',
    options: routeOptions,
    tracksOwnConnections: true,
    authenticatesOnConnect: true,
    isContinuation: (_req, ctx) => ctx.query.has('sid'),
    handle(req, socket, head, ctx) {
      setRequestContext(req, ctx);
      standIn.emit('upgrade', req, socket, head);
    },
    handleRequest(req, res, ctx) {
      setRequestContext(req, ctx);
      standIn.emit('request', req, res);
    },
    dispose: () => new Promise<void>((resolve) => io.close(() => resolve())),
  });

  // Read again after attach(): the check above narrowed it to 'absent'.
  const engine = (io as { engine: unknown }).engine as EventEmitter;
  engine.on('connection', (conn: EngineSocket) => {
    const ctx = requestContext(conn.request);
    hub.trackConnection(
      route,
      conn,
      { close: () => conn.close(), terminate: () => conn.close(true) },
      ctx ?? emptyContext(route),
    );
  });

  warnOfUnusedConnectArgument(hub, route);
  const contextOf = (req: IncomingMessage | undefined) => requestContext(req);
  const install = (nsp: Namespace) => takePartInConnects(hub, route, nsp, contextOf, gate);
  for (const nsp of namespacesOf(io)) install(nsp);
  io.on('new_namespace', install);
  return route;
}

/** Every namespace a Socket.IO server has now (the default one, named ones, dynamic children). */
export function namespacesOf(io: SocketIOServer): Namespace[] {
  const nsps = (io as unknown as { _nsps?: Map<string, Namespace> })._nsps;
  return nsps ? [...nsps.values()] : [io.sockets];
}

/**
 * An `authenticate(req, { auth })` on a route that authenticates on the request would only ever
 * be given `req`: said at start-up rather than as a 401 on every connect.
 */
function warnOfUnusedConnectArgument(hub: Hub, route: Route): void {
  const { authenticate, authenticateOn } = route.options;
  if (authenticateOn === 'connect' || typeof authenticate !== 'function' || authenticate.length < 2) return;
  hub.options.logger.warn(
    { pattern: route.pattern, owner: route.owner },
    `${route.describe()}: authenticate takes a second argument, but it runs on the HTTP request and is given req alone. ` +
      "To read the CONNECT packet's auth payload (io(url, { auth })), add authenticateOn: 'connect' to the route options.",
  );
}

interface EngineSocket extends EventEmitter {
  request: IncomingMessage;
  close(discard?: boolean): void;
}

function isSocketIOServer(value: unknown): value is SocketIOServer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SocketIOServer).of === 'function' &&
    typeof (value as SocketIOServer).attach === 'function' &&
    typeof (value as SocketIOServer).path === 'function'
  );
}

function emptyContext(route: Route): UpgradeContext {
  return {
    params: {},
    path: route.pattern,
    query: new URLSearchParams(),
    host: undefined,
    protocols: [],
    pattern: route.pattern,
    ip: undefined,
    principal: undefined,
    identity: undefined,
    accept() {},
    reject() {},
  };
}
