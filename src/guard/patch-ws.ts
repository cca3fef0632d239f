import type { Server } from 'node:http';
import type { WebSocketServer } from 'ws';
import { mountWs } from '../adapters/ws.js';
import { SwitchboardError } from '../errors.js';
import { callSite, type Route } from '../hub/index.js';
import { guardHub } from '../switchboard.js';
import { report } from './findings.js';
import { isHttpServer } from './server-kind.js';

const PATCHED = Symbol.for('switchboard.guard.ws');

/**
 * Turns `new WebSocketServer({ server, path })` into a hub route, for every import style. The ws
 * constructor assigns `this._server = options.server` before adding its own listeners to it; an
 * accessor on the prototype sees that assignment with the instance and its options, mounts the
 * instance on its path (or `/*` without one), and gives ws a view of the server on which adding an
 * `'upgrade'` listener does nothing. Every other use of the server (listening, error, address)
 * reaches the real one.
 */
export function patchWs(WebSocketServerClass: typeof WebSocketServer): void {
  const prototype = WebSocketServerClass.prototype as unknown as Record<PropertyKey, unknown>;
  if (prototype[PATCHED]) return;
  Object.defineProperty(prototype, PATCHED, { value: true });
  /** Constructed instances whose server is known and whose options are not yet assigned. */
  const pending = new WeakMap<object, { server: Server; owner: string | undefined; view: { route: Route | undefined } }>();

  // Each accessor runs once per instance, at ws's own assignment, and replaces itself with a plain
  // property of the instance: ws reads `options` many times per handshake, and an accessor there
  // would cost every handshake of every WebSocketServer in the process.
  Object.defineProperty(prototype, '_server', {
    configurable: true,
    get() {
      return null;
    },
    set(this: WebSocketServer, value: unknown) {
      let server = value;
      if (isHttpServer(value)) {
        // ws assigns its options only after adding its listeners: mount once they arrive.
        const view = { route: undefined as Route | undefined };
        pending.set(this, { server: value, owner: callSite(), view });
        server = withoutUpgradeListeners(value, view);
      }
      ownProperty(this, '_server', server);
    },
  });
  Object.defineProperty(prototype, 'options', {
    configurable: true,
    get() {
      return undefined;
    },
    set(this: WebSocketServer, value: WebSocketServer['options']) {
      ownProperty(this, 'options', value);
      const waiting = pending.get(this);
      if (!waiting) return;
      pending.delete(this);
      waiting.view.route = mount(this, waiting.server, waiting.owner);
    },
  });
}

/** What the assignment would have made without the accessor: a plain, writable property of the instance. */
function ownProperty(instance: object, name: string, value: unknown): void {
  Object.defineProperty(instance, name, { value, writable: true, enumerable: true, configurable: true });
}

function mount(wss: WebSocketServer, server: Server, owner: string | undefined): Route | undefined {
  const pattern = wss.options.path ?? '/*';
  try {
    return mountWs(guardHub(server), pattern, wss, undefined, { attached: true, owner }).route;
  } catch (error) {
    if (!(error instanceof SwitchboardError) || error.code !== 'ERR_ROUTE_CONFLICT') throw error;
    const existing = guardHub(server)
      .routes()
      .find((route) => route.pattern === pattern && !route.host && !route.protocol);
    report({
      severity: 'conflict',
      summary: `two ws servers on ${JSON.stringify(pattern)}`,
      message:
        `two WebSocket servers claim ${JSON.stringify(pattern)}: ${existing?.kind ?? 'a'} server at ${existing?.owner ?? 'an unknown place'} ` +
        `and a ws server at ${owner ?? 'an unknown place'}. The first keeps the path; the second gets no connections. ` +
        'Give the second another path, or share the first.',
      parties: [existing?.owner ?? 'unknown', owner ?? 'unknown'],
    });
    return undefined;
  }
}

/** The server as ws sees it: adding or removing an 'upgrade' listener is the hub's business. */
function withoutUpgradeListeners(server: Server, mounted: { route: Route | undefined }): Server {
  return new Proxy(server, {
    get(target, property) {
      if (property === 'on' || property === 'addListener') {
        return (event: string | symbol, listener: (...args: unknown[]) => void) => {
          if (event !== 'upgrade') target.on(event as string, listener);
          return target;
        };
      }
      if (property === 'removeListener' || property === 'off') {
        return (event: string | symbol, listener: (...args: unknown[]) => void) => {
          // wss.close() removes its listeners: the route goes with them.
          if (event === 'upgrade') {
            if (mounted.route) {
              const hub = guardHub(target);
              hub.removeRoute(mounted.route);
              hub.releaseIfUnused();
            }
            mounted.route = undefined;
          } else {
            target.removeListener(event as string, listener);
          }
          return target;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
