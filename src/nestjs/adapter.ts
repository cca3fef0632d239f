import http from 'node:http';
import { Logger, type WsMessageHandler } from '@nestjs/common';
import { AbstractWsAdapter, type BaseWsInstance } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { Namespace, Socket, Server as SocketIOServer, ServerOptions as SocketIOServerOptions } from 'socket.io';
import type { WebSocket, WebSocketServer } from 'ws';
import { namespacesOf } from '../adapters/socketio.js';
import { mountWs, type WsRouteServerOptions } from '../adapters/ws.js';
import { SwitchboardError } from '../errors.js';
import type { Route, RouteOptions } from '../hub/index.js';
import { optionalRequire } from '../optional-require.js';
import { type Switchboard, switchboard } from '../switchboard.js';
import { type GatewayKind, gatewayKind, normalizeGatewayPath } from './gateway-kind.js';
import { bindIoMessages } from './io-messages.js';
import { bindWsMessages, jsonMessageParser, type WsMessageParser } from './ws-messages.js';

/** What `@WebSocketGateway({ ... })` may say on top of the `ws` or Socket.IO options. */
export interface SwitchboardGatewayOptions extends Partial<SocketIOServerOptions> {
  /** `'ws'` or `'socket.io'`; by default Socket.IO without a path (or on a `/socket.io` path), `ws` on any other path. */
  kind?: GatewayKind;
  /** The hub route's checks and policy for this gateway (`authenticate`, `origins`, `maxConnections`, `perUser`...). */
  routeOptions?: RouteOptions;
  namespace?: string | RegExp;
  path?: string;
  /** Set by Nest when it asks for a namespace of a Socket.IO server it already has. */
  server?: unknown;
  [option: string]: unknown;
}

export interface SwitchboardAdapterOptions {
  /** The hub to mount the gateways of the app's own port on. Default: `switchboard(app's HTTP server)`. */
  hub?: Switchboard;
  /** Route options for every gateway; a gateway's own `routeOptions` replace them. */
  routeOptions?: RouteOptions;
  /** How `ws` gateways read a frame. Default: JSON `{ event, data }`, as Nest's `WsAdapter`. */
  messageParser?: WsMessageParser;
}

/** What a gateway is served by; Nest only needs `on` and `close` of it. */
type GatewayServer = (WebSocketServer | SocketIOServer | Namespace) & BaseWsInstance;
type GatewayClient = (WebSocket | Socket) & BaseWsInstance;

const SOCKET_IO_DEFAULT_PATH = '/socket.io';

/**
 * A Nest WebSocket adapter that serves every gateway through the server's Switchboard hub, in
 * place of both `WsAdapter` and `IoAdapter`: `ws` gateways become hub routes on their paths,
 * Socket.IO gateways namespaces of a Socket.IO server mounted on the hub (the hub's shared one,
 * `hub.io()`, on the default path). The adapter never listens to `'upgrade'` itself, so gateways,
 * the app's own `hub.ws()`/`hub.io()` services and GraphQL subscriptions share one port; a
 * handshake nobody serves gets the hub's `404`, not a destroyed socket.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new SwitchboardAdapter(app));
 * ```
 */
export class SwitchboardAdapter extends AbstractWsAdapter<GatewayServer, GatewayClient, SwitchboardGatewayOptions> {
  private readonly logger = new Logger(SwitchboardAdapter.name);
  private readonly settings: SwitchboardAdapterOptions;
  /** The hub routes this adapter mounted, by the server it gave Nest: closing that server unmounts its route. */
  private readonly routes = new Map<object, { hub: Switchboard; route: Route; unmount?: () => void }>();
  /** Socket.IO servers that belong to a hub rather than to this app (`hub.io()`): closing the app leaves them running. */
  private readonly sharedIo = new WeakSet<object>();
  /** Namespaces this adapter added to a hub's shared server, which outlives the app: closing the app removes them. */
  private readonly addedNamespaces = new Map<Namespace, SocketIOServer>();
  /** The `'connection'` listeners bound for Nest, by server, taken off when Nest closes that server. */
  private readonly connectionListeners = new Map<object, ((...args: unknown[]) => void)[]>();
  /** HTTP servers this adapter listens on for gateways given a port of their own. */
  private readonly ownServers = new Map<number, http.Server>();

  constructor(appOrHttpServer?: ConstructorParameters<typeof AbstractWsAdapter>[0], options: SwitchboardAdapterOptions = {}) {
    super(appOrHttpServer);
    this.settings = options;
  }

  /** The hub of the app's own server (or of the server a gateway's `port` opened). */
  hubFor(port = 0): Switchboard {
    if (port === 0) {
      if (this.settings.hub) return this.settings.hub;
      if (!this.httpServer) {
        throw new SwitchboardError(
          'ERR_INVALID_OPTION',
          'SwitchboardAdapter: no HTTP server. Pass the Nest application (new SwitchboardAdapter(app)), its HTTP server, or { hub }.',
        );
      }
      return switchboard(this.httpServer as http.Server);
    }
    let server = this.ownServers.get(port);
    if (!server) {
      server = http.createServer((_req, res) => {
        res.writeHead(404).end();
      });
      server.on('error', (error) => this.logger.error(error));
      server.listen(port);
      this.ownServers.set(port, server);
    }
    return switchboard(server);
  }

  create(port: number, options: SwitchboardGatewayOptions = {}): GatewayServer {
    const { namespace, server, kind, routeOptions, path, ...libraryOptions } = options;
    if (server !== undefined && namespace !== undefined) {
      // Nest reuses the Socket.IO server of a path for each further namespace on it.
      if (!isSocketIOServer(server)) {
        throw new SwitchboardError(
          'ERR_INVALID_OPTION',
          `@WebSocketGateway({ path: ${JSON.stringify(path)}, namespace: ${String(namespace)} }): namespaces are a Socket.IO feature, and this path is served by ws. Add kind: 'socket.io'.`,
        );
      }
      return this.namespace(server, namespace) as GatewayServer;
    }
    const hub = this.hubFor(port);
    const route = routeOptions ?? this.settings.routeOptions;
    if (gatewayKind({ kind, path }) === 'ws') {
      if (namespace !== undefined) {
        throw new SwitchboardError(
          'ERR_INVALID_OPTION',
          `@WebSocketGateway({ path: ${JSON.stringify(path)}, namespace }): ws gateways have no namespaces; add kind: 'socket.io' or give each a path.`,
        );
      }
      // Nest's WsAdapter serves a gateway without a path on '/'.
      const mounted = mountWs(hub, normalizeGatewayPath(path ?? '/'), libraryOptions as WsRouteServerOptions, route);
      this.routes.set(mounted.wss, { hub, route: mounted.route });
      mounted.wss.on('error', (error) => this.logger.error(error));
      return mounted.wss as GatewayServer;
    }
    const io = this.socketIO(hub, path, libraryOptions, route);
    return (namespace === undefined ? io : this.namespace(io, namespace)) as GatewayServer;
  }

  private namespace(io: SocketIOServer, name: string | RegExp): Namespace {
    const added = typeof name === 'string' && !namespacesOf(io).some((nsp) => nsp.name === withLeadingSlash(name));
    const nsp = io.of(name);
    if (added && this.sharedIo.has(io)) this.addedNamespaces.set(nsp, io);
    return nsp;
  }

  private socketIO(
    hub: Switchboard,
    path: string | undefined,
    options: Partial<SocketIOServerOptions>,
    route: RouteOptions | undefined,
  ): SocketIOServer {
    const ioPath = path === undefined ? SOCKET_IO_DEFAULT_PATH : normalizeGatewayPath(path);
    if (ioPath === SOCKET_IO_DEFAULT_PATH) {
      // The hub's shared server: gateways and the app's own hub.io() services are namespaces of one engine.
      const io = hub.io(Object.keys(options).length > 0 ? options : undefined, route);
      this.sharedIo.add(io);
      return io;
    }
    const { Server } = optionalRequire<typeof import('socket.io')>('socket.io', 'A Socket.IO gateway');
    const io = new Server({ ...options, path: ioPath });
    const mounted = hub.socketioRoute(io, route);
    this.routes.set(io, { hub, route: mounted, unmount: () => hub.unmountSocketIO(io, mounted) });
    return io;
  }

  override bindClientConnect(server: GatewayServer, callback: (...args: unknown[]) => void): void {
    (server as { on(event: 'connection', listener: (...args: unknown[]) => void): unknown }).on('connection', callback);
    this.connectionListeners.set(server, [...(this.connectionListeners.get(server) ?? []), callback]);
  }

  override bindClientDisconnect(client: GatewayClient, callback: (reason?: unknown) => void): void {
    if (isSocketIOClient(client)) client.once('disconnect', (reason) => callback(reason));
    else client.once('close', () => callback());
  }

  bindMessageHandlers(
    client: GatewayClient,
    handlers: WsMessageHandler[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const onError = (error: unknown) => this.logger.error(error);
    if (isSocketIOClient(client)) bindIoMessages(client, handlers, transform, onError);
    else bindWsMessages(client, handlers, transform, this.settings.messageParser ?? jsonMessageParser, onError);
  }

  /** Drops a client that connected while the app was still starting (Nest calls this). */
  closeClient(client: GatewayClient): void {
    if (isSocketIOClient(client)) client.disconnect(true);
    else client.terminate();
  }

  override async close(server: GatewayServer): Promise<void> {
    // Unmounted first: a handshake on the path from now on gets the hub's 404, not a closing server.
    const mounted = this.routes.get(server);
    if (mounted?.unmount) mounted.unmount();
    else if (mounted) mounted.hub.removeRoute(mounted.route);
    this.routes.delete(server);
    for (const listener of this.connectionListeners.get(server) ?? []) server.off('connection', listener);
    this.connectionListeners.delete(server);
    if (isWebSocketServer(server)) {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return;
    }
    if (!isSocketIOServer(server) || this.sharedIo.has(server)) {
      // A namespace, or the hub's shared server: its other users keep it; this app's clients and handlers go.
      server.disconnectSockets(true);
      this.removeAddedNamespace(server as Namespace);
      return;
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Takes a namespace this adapter added off the hub's shared server, as Socket.IO does with an
   * emptied child namespace (`cleanupEmptyChildNamespaces`): a client asking for it is then told
   * that it is not a namespace, instead of being served by the handlers of a closed app.
   */
  private removeAddedNamespace(nsp: Namespace): void {
    const io = this.addedNamespaces.get(nsp);
    if (!io) return;
    this.addedNamespaces.delete(nsp);
    (io as unknown as { _nsps: Map<string, Namespace> })._nsps.delete(nsp.name);
    Promise.resolve(nsp.adapter.close()).catch((error: unknown) => this.logger.error(error));
  }

  override async dispose(): Promise<void> {
    const servers = [...this.ownServers.values()];
    this.ownServers.clear();
    await Promise.all(
      servers.map(async (server) => {
        await switchboard(server).close({ timeoutMs: 1_000 });
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }
}

function withLeadingSlash(name: string): string {
  return name.startsWith('/') ? name : `/${name}`;
}

function isWebSocketServer(value: unknown): value is WebSocketServer {
  return typeof (value as WebSocketServer).handleUpgrade === 'function';
}

function isSocketIOServer(value: unknown): value is SocketIOServer {
  return typeof value === 'object' && value !== null && typeof (value as SocketIOServer).of === 'function';
}

function isSocketIOClient(client: unknown): client is Socket & BaseWsInstance {
  return typeof (client as Socket).nsp === 'object' && typeof (client as Socket).emit === 'function';
}
