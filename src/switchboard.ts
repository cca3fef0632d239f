import type { Server } from 'node:http';
import type { WebSocketServer } from 'ws';
import { mountHandler } from './adapters/handler.js';
import { mountWs, type WsRouteServerOptions } from './adapters/ws.js';
import { SwitchboardError } from './errors.js';
import { Hub, type HubOptions, hubFor, type Route, type RouteOptions, type UpgradeHandler } from './hub/index.js';

export type SwitchboardOptions = HubOptions;

/** The hub with its mounts: what `switchboard(server)` returns. */
export class Switchboard extends Hub {
  /** Mounts a `ws` server on `pattern` and returns it (in noServer mode). */
  ws(pattern: string, wssOrOptions?: WebSocketServer | WsRouteServerOptions, routeOptions?: RouteOptions): WebSocketServer {
    return mountWs(this, pattern, wssOrOptions, routeOptions).wss;
  }

  /** Mounts a custom upgrade handler on `pattern`. */
  handle<Principal = unknown>(
    pattern: string,
    handler: UpgradeHandler<Principal>,
    routeOptions?: RouteOptions<Principal>,
  ): Route {
    return mountHandler(this, pattern, handler, routeOptions);
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
  if (!created && options !== undefined) checkSameOptions(hub, options);
  if (!(hub instanceof Switchboard)) {
    // A hub made by another copy of Switchboard (say the CommonJS build beside the ESM one): it is
    // the owner of 'upgrade' and is returned as is, with the mounts of the copy that made it.
    return hub as unknown as Switchboard;
  }
  return hub;
}

function checkSameOptions(hub: Hub, options: SwitchboardOptions): void {
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
