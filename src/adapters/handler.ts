import { SwitchboardError } from '../errors.js';
import type { Hub, Route, RouteOptions, UpgradeHandler } from '../hub/index.js';

/**
 * Mounts a custom upgrade handler. It gets the socket after the route's checks passed, and must
 * answer: write a `101` (or call `ctx.accept()`), or `ctx.reject(status)`; otherwise the hub
 * answers `408` when the handshake times out.
 */
export function mountHandler<Principal = unknown>(
  hub: Hub,
  pattern: string,
  handler: UpgradeHandler<Principal>,
  routeOptions?: RouteOptions<Principal>,
): Route {
  if (typeof handler !== 'function') {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `hub.handle(${JSON.stringify(pattern)}, handler): handler must be a function (req, socket, head, ctx) => void.`,
    );
  }
  return hub.addRoute({
    pattern,
    kind: 'handler',
    options: routeOptions as RouteOptions,
    handle: handler as UpgradeHandler,
  });
}
