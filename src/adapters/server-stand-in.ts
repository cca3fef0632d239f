import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SwitchboardError } from '../errors.js';
import type { Hub, Route, RouteOptions, UpgradeContext } from '../hub/index.js';
import { ListenerOffer, NOT_TAKEN } from '../hub/listener-offer.js';

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * What a library that insists on adding its own `'upgrade'` listener to the HTTP server is given
 * instead of the server (Next.js's `httpServer`, Vite's `server.ws.server`, `@fastify/websocket`'s
 * `options.server`). The listeners added to it get exactly the handshakes the hub routes to the
 * stand-in's routes, after the routes' checks, and nothing else: the library can no longer race
 * the hub, destroy sockets it does not know, or answer paths that belong to other services.
 *
 * Only `'upgrade'` is served; a library that needs the real server for anything else (its
 * `'request'` events, `address()`) should be given the real server and run under the guard.
 */
export class ServerStandIn extends EventEmitter {
  /** The routes feeding this stand-in, in the order they were added. */
  readonly routes: Route[] = [];
  private readonly hub: Hub;

  constructor(hub: Hub) {
    super();
    this.hub = hub;
  }

  /**
   * Feeds the handshakes of one more route to the same listeners (Vite's HMR socket and its
   * reconnection ping share a path and differ by sub-protocol). Returns the stand-in.
   */
  route(pattern: string, routeOptions?: RouteOptions): this {
    this.routes.push(
      this.hub.addRoute({
        pattern,
        kind: 'upgrade listener',
        options: routeOptions,
        handle: (req, socket, head, ctx) => this.offer(req, socket, head, ctx),
      }),
    );
    return this;
  }

  /** Takes the stand-in's routes away; its listeners get no more handshakes. */
  close(callback?: (error?: Error) => void): this {
    for (const route of this.routes.splice(0)) this.hub.removeRoute(route);
    callback?.();
    return this;
  }

  /**
   * Offers a routed handshake to the listeners in the order they were added, each once the one
   * before it has left the socket alone (see `ListenerOffer`): no listener is handed a socket
   * another one already took. When all of them decline it, the client gets 404 at once; one that
   * may answer later (after its own asynchronous checks) is waited for by the hub's handshake
   * timeout, as any route is.
   */
  private offer(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: UpgradeContext): void {
    // Raw listeners, so that one added with once() is removed when it is called.
    const listeners = this.rawListeners('upgrade') as UpgradeListener[];
    if (listeners.length === 0) {
      // Next.js adds its listener on the first page request; an HMR socket cannot come before that.
      ctx.reject(503, 'the library serving this path has not started listening yet', { 'Retry-After': 1 });
      return;
    }
    const offer = new ListenerOffer(socket, listeners, {
      call: (listener) => listener.call(this, req, socket, head),
      error: (error) => this.hub.reportError(error, { during: 'handler', pattern: ctx.pattern, path: ctx.path }),
      verdict: (verdict) => {
        // The handshake watches the socket and keeps the deadline from here on.
        if (verdict === 'pending') offer.stop();
        else if (verdict === 'declined') ctx.reject(404, NOT_TAKEN);
        else if (verdict === 'failed') ctx.reject(500, 'route handler failed');
      },
    });
    offer.start();
  }
}

/** Creates a stand-in fed by the route `pattern` (see `ServerStandIn`). */
export function mountStandIn(hub: Hub, pattern: string, routeOptions?: RouteOptions): ServerStandIn {
  if (typeof pattern !== 'string') {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `hub.serverFor(pattern): pattern must be a route pattern such as '/_next/*', not ${typeof pattern}.`,
    );
  }
  return new ServerStandIn(hub).route(pattern, routeOptions);
}
