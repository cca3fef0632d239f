import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import { SwitchboardError } from '../errors.js';
import {
  type Hub,
  type Route,
  type RouteOptions,
  requestContext,
  setRequestContext,
  type UpgradeContext,
  writeRejection,
} from '../hub/index.js';

declare module 'ws' {
  interface WebSocket {
    /** What the route's `authenticate` returned for this connection. */
    principal?: unknown;
  }
}

/** The hub's view of a handshake (params, principal, identity), from the `req` of a `'connection'` event. */
export function contextOf<Principal = unknown>(req: IncomingMessage): UpgradeContext<Principal> | undefined {
  return requestContext<Principal>(req);
}

/** `ws` options without the ones the hub owns (it listens, it routes). */
export type WsRouteServerOptions = Omit<ServerOptions, 'server' | 'port' | 'noServer' | 'path'> & { path?: string };

/**
 * Mounts a `ws` server on a route: given options, creates one in `noServer` mode; given a
 * `WebSocketServer`, checks that it does not listen by itself (that would be a second owner of
 * 'upgrade'). The route's checks run first; then `ws` does the protocol and emits `'connection'`.
 */
export function mountWs(
  hub: Hub,
  pattern: string,
  wssOrOptions: WebSocketServer | WsRouteServerOptions = {},
  routeOptions?: RouteOptions,
  /** For the guard: mount a server made with `{ server }` whose own listener it suppressed, naming the user's line. */
  mount: { attached?: boolean; owner?: string } = {},
): { wss: WebSocketServer; route: Route } {
  const wss = isWebSocketServer(wssOrOptions)
    ? mount.attached
      ? wssOrOptions
      : checkServer(wssOrOptions, pattern)
    : createServer(wssOrOptions, pattern);
  // A client sending a bad frame makes ws emit 'error'; without a listener that would crash the
  // process. One listener for the route's connections, not a closure per connection; it stays
  // silent where the app listens to the connection's errors itself.
  const reportConnectionError = function (this: WebSocket, error: Error) {
    if (this.listenerCount('error') > 1) return;
    hub.reportError(error, { pattern, during: 'connection' });
  };
  // ws hands its refusals (bad key, version, method...) to 'wsClientError' listeners when it has
  // any: the hub answers them, so no write of the handshake needs watching. An app's own listener
  // keeps the last word (see answerRefusal); verifyClient refusals never take that way, so a server
  // with verifyClient is watched as any library. A server the guard mounts for legacy code keeps
  // its refusals, byte for byte, and no listener of the hub's on it.
  const refusalsToHub = !mount.attached && !wss.options.verifyClient;
  if (refusalsToHub) wss.on('wsClientError', answerRefusal);
  const route = hub.addRoute({
    pattern,
    kind: 'ws',
    options: routeOptions,
    // ws answers a handshake by calling back right after its 101, and refuses with end().
    reportsAcceptance: true,
    reportsRefusals: refusalsToHub,
    owner: mount.owner,
    handle(req, socket, head, ctx) {
      setRequestContext(req, ctx);
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        if (ctx.principal !== undefined) ws.principal = ctx.principal;
        ctx.accept(ws);
        ws.on('error', reportConnectionError);
        wss.emit('connection', ws, req);
      });
    },
    // First on the server without the hub, ws would have refused every other path itself (400).
    answerUnmatched: mount.attached && wss.options.path ? (req, socket, head) => handToWs(wss, req, socket, head) : undefined,
    dispose: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  });
  return { wss, route };
}

/** What ws's own 'upgrade' listener does with a handshake (a path not its own: its 400). */
function handToWs(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  wss.handleUpgrade(req, socket, head, (ws: WebSocket) => wss.emit('connection', ws, req));
}

/**
 * ws's own refusal of a handshake, answered as ws would (405 for the method, else 400) through the
 * hub. When the app listens to 'wsClientError' on its server too, its listener answers instead.
 */
function answerRefusal(this: WebSocketServer, error: Error, socket: Duplex, req: IncomingMessage): void {
  if (this.listenerCount('wsClientError') > 1) return;
  const status = /method/i.test(error.message) ? 405 : 400;
  const headers = /version/i.test(error.message) ? { 'Sec-WebSocket-Version': '13, 8' } : undefined;
  const ctx = requestContext(req);
  if (ctx) ctx.reject(status, error.message, headers);
  else writeRejection(socket, status, error.message, headers);
}

function isWebSocketServer(value: unknown): value is WebSocketServer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as WebSocketServer).handleUpgrade === 'function' &&
    typeof (value as WebSocketServer).options === 'object'
  );
}

function checkServer(wss: WebSocketServer, pattern: string): WebSocketServer {
  const { options } = wss;
  if (options.server || options.port != null) {
    throw new SwitchboardError(
      'ERR_WS_ATTACHED',
      `hub.ws(${JSON.stringify(pattern)}) was given a WebSocketServer created with { ${options.server ? 'server' : 'port'} }: ` +
        "it listens to 'upgrade' by itself, so it would race the hub for the same sockets. " +
        'Create it with new WebSocketServer({ noServer: true }), or pass ws options instead of a server ' +
        '(hub.ws(path, { maxPayload })), or leave the code as it is and run it under the guard ' +
        '(node --import switchboard/register app.js).',
    );
  }
  checkPath(options.path, pattern);
  return wss;
}

function createServer(options: WsRouteServerOptions, pattern: string): WebSocketServer {
  if (typeof options !== 'object' || options === null) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `hub.ws(${JSON.stringify(pattern)}, options): expected a WebSocketServer created with { noServer: true } or an object of ws options.`,
    );
  }
  for (const owned of ['server', 'port', 'noServer'] as const) {
    if (owned in options) {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `hub.ws(${JSON.stringify(pattern)}, options): leave out "${owned}"; the hub owns the server and creates the WebSocketServer in noServer mode.`,
      );
    }
  }
  checkPath(options.path, pattern);
  const { path: _path, ...rest } = options;
  return new WebSocketServer({ ...rest, noServer: true });
}

/** A `path` on the ws server makes ws answer 400 to every other path, so it must be the route's. */
function checkPath(path: string | null | undefined, pattern: string): void {
  // ws itself sets `path: null` on a server made without one.
  if (path !== undefined && path !== null && path !== pattern) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `hub.ws(${JSON.stringify(pattern)}): the WebSocketServer has path ${JSON.stringify(path)}, so ws would refuse every handshake the route sends it. ` +
        'Leave the path out of the ws options; the route pattern decides.',
    );
  }
}
