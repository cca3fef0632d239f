import type { IncomingMessage } from 'node:http';
import type { UpgradeContext } from './types.js';

/**
 * The hub's context of a handshake, kept on its request for the route's library to find again
 * (ws's `'connection'`, engine.io's session). It rides on the request under a symbol rather than
 * in a WeakMap: an entry per handshake in a WeakMap is an ephemeron that every young-generation
 * collection must trace, and that made collection the largest cost the hub added to a handshake.
 */
const CONTEXT = Symbol('switchboard.context');

type WithContext = IncomingMessage & { [CONTEXT]?: UpgradeContext };

export function setRequestContext(req: IncomingMessage, ctx: UpgradeContext): void {
  (req as WithContext)[CONTEXT] = ctx;
}

/** Undefined for a connection without an HTTP request (a WebTransport-only engine.io session has none). */
export function requestContext<Principal = unknown>(req: IncomingMessage | undefined): UpgradeContext<Principal> | undefined {
  return (req as WithContext | undefined)?.[CONTEXT] as UpgradeContext<Principal> | undefined;
}
