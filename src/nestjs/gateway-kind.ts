import { SwitchboardError } from '../errors.js';

/** Which library serves a gateway: a `ws` server on its path, or Socket.IO (namespaces, rooms, acks). */
export type GatewayKind = 'ws' | 'socket.io';

/**
 * Decides a gateway's library from its `@WebSocketGateway()` options. Nest strips `namespace`
 * before asking the adapter for a server, so the path is what is left to go by: Socket.IO when
 * the gateway says so (`kind`), has no path (Socket.IO's default `/socket.io`) or a path ending in
 * `/socket.io`; `ws` for any other path.
 */
export function gatewayKind(options: { kind?: GatewayKind; path?: string }): GatewayKind {
  if (options.kind !== undefined) {
    if (options.kind !== 'ws' && options.kind !== 'socket.io') {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `@WebSocketGateway({ kind: ${JSON.stringify(options.kind)} }): kind must be 'ws' or 'socket.io'.`,
      );
    }
    return options.kind;
  }
  if (options.path === undefined) return 'socket.io';
  return /\/socket\.io\/?$/.test(options.path) ? 'socket.io' : 'ws';
}

/** A gateway path as Nest writes it: one leading slash, none trailing, no doubled slashes. */
export function normalizeGatewayPath(path: string): string {
  return `/${path.replace(/\/+$/, '')}`.replace(/\/+/g, '/');
}
