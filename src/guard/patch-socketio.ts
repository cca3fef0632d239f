import type { Server as HttpServer } from 'node:http';
import type { Server as SocketIOServer } from 'socket.io';
import { callSite, type Route } from '../hub/index.js';
import { guardHub, type Switchboard } from '../switchboard.js';
import { report } from './findings.js';
import { isHttpServer } from './server-kind.js';

const PATCHED = Symbol.for('switchboard.guard.socketio');

interface Mounted {
  io: SocketIOServer;
  owner: string | undefined;
  server: HttpServer;
  hub: Switchboard;
  route: Route;
}

/** The Socket.IO server mounted on each path of each HTTP server, with where it was created. */
const mountedByServer = new WeakMap<HttpServer, Map<string, Mounted>>();
/** The same entries by Socket.IO server, for `close()`. */
const mountedByIo = new WeakMap<SocketIOServer, Mounted>();

type SocketIOClass = { prototype: SocketIOServer };
type InitEngine = (this: SocketIOServer, srv: unknown, opts: unknown) => void;
type Close = (this: SocketIOServer, fn?: (error?: Error) => void) => Promise<void>;

/**
 * Turns `new Server(httpServer)` (and `io.attach(httpServer, opts)`, `io.listen(port, opts)`) into
 * a hub route. Every way of attaching goes through `initEngine(srv, opts)`, so that is where the
 * guard steps in: a real HTTP server gets the Socket.IO server mounted on the hub, with the same
 * options, instead of engine.io's own listeners. A second Socket.IO server on a path already taken
 * is merged into the first; a closed one is forgotten, so that it can listen again or be replaced.
 */
export function patchSocketIO(SocketIO: SocketIOClass): void {
  const prototype = SocketIO.prototype as unknown as Record<PropertyKey, unknown>;
  if (prototype[PATCHED]) return;
  Object.defineProperty(prototype, PATCHED, { value: true });
  const initEngine = prototype.initEngine as InitEngine;
  prototype.initEngine = function initEngineThroughHub(this: SocketIOServer, srv: unknown, opts: unknown) {
    if (!isHttpServer(srv)) {
      // The hub's own stand-in server, or something the guard does not know: as before.
      initEngine.call(this, srv, opts);
      return;
    }
    const owner = callSite();
    let onServer = mountedByServer.get(srv);
    if (!onServer) {
      onServer = new Map();
      mountedByServer.set(srv, onServer);
    }
    const path = this.path();
    const first = onServer.get(path);
    if (first) {
      merge(this, first.io);
      report({
        severity: 'warning',
        summary: `Socket.IO servers merged on ${path}`,
        message:
          `two Socket.IO servers on ${path}: at ${first.owner ?? 'an unknown place'} and at ${owner ?? 'an unknown place'}. ` +
          'They now act as one server: the handlers of both run and every namespace of each is served. ' +
          'Create one server and share it (hub.io()) to silence this.',
        parties: [first.owner ?? 'unknown', owner ?? 'unknown'],
      });
    } else {
      const engineOptions = typeof opts === 'object' && opts !== null ? opts : undefined;
      const hub = guardHub(srv);
      const route = hub.socketioRoute(this, undefined, { engineOptions });
      const mounted = { io: this, owner, server: srv, hub, route };
      onServer.set(path, mounted);
      mountedByIo.set(this, mounted);
    }
    // As when attached without the guard: io.httpServer is the app's server (io.close() closes it).
    (this as unknown as { httpServer: HttpServer }).httpServer = srv;
  };
  const close = prototype.close as Close;
  prototype.close = function closeThroughHub(this: SocketIOServer, fn?: (error?: Error) => void) {
    // At once, not when the close settles: `io.close(); io.listen(port)` attaches again right away.
    const mounted = mountedByIo.get(this);
    if (mounted) {
      mountedByIo.delete(this);
      mountedByServer.get(mounted.server)?.delete(mounted.io.path());
      mounted.hub.unmountSocketIO(mounted.io, mounted.route);
    }
    return close.call(this, fn);
  };
}

/**
 * Makes `second` a face of `first`: Socket.IO's server methods work through its main namespace
 * (`this.sockets`) and its namespace map, so sharing those shares everything: handlers registered
 * on either run for the same sockets, and namespaces created through either are one set.
 */
function merge(second: SocketIOServer, first: SocketIOServer): void {
  const target = second as unknown as Record<string, unknown>;
  const source = first as unknown as Record<string, unknown>;
  for (const field of ['sockets', '_nsps', 'parentNsps', 'parentNamespacesFromRegExp', 'engine', 'eio']) {
    if (field in source) target[field] = source[field];
  }
  target.of = first.of.bind(first);
  target.close = first.close.bind(first);
}
