import type { Duplex } from 'node:stream';
import type { Closable, RouteInfo, RouteOptions, UpgradeHandler } from './types.js';

/** What an adapter gives the hub to mount a route. */
export interface RouteSpec {
  pattern: string;
  /** Shown in `hub.routes()` and in conflicts: `'ws'`, `'socket.io'`, `'handler'`… */
  kind: string;
  options?: RouteOptions;
  handle: UpgradeHandler;
  /** Run by `hub.close()` once the route's connections are gone (e.g. `wss.close()`). */
  dispose?: () => void | Promise<void>;
  /** Overrides the detected call site (the guard knows the user's `new WebSocketServer` line better). */
  owner?: string;
}

/** A mounted route and its live connections. */
export class Route {
  readonly pattern: string;
  readonly kind: string;
  readonly options: RouteOptions;
  readonly handle: UpgradeHandler;
  readonly dispose: (() => void | Promise<void>) | undefined;
  readonly owner: string | undefined;
  /** Open connections, with how to close each at shutdown (the raw socket is ended otherwise). */
  readonly connections = new Map<Duplex, Closable | undefined>();
  /** Handshakes past the connection-limit check that have not finished; they count against the limit. */
  reserved = 0;

  constructor(spec: RouteSpec, options: RouteOptions, owner: string | undefined) {
    this.pattern = spec.pattern;
    this.kind = spec.kind;
    this.options = options;
    this.handle = spec.handle;
    this.dispose = spec.dispose;
    this.owner = owner;
  }

  get host(): string | undefined {
    return this.options.host;
  }

  get protocol(): string | undefined {
    return this.options.protocol;
  }

  info(): RouteInfo {
    const info: RouteInfo = { pattern: this.pattern, kind: this.kind, connections: this.connections.size };
    if (this.host !== undefined) info.host = this.host;
    if (this.protocol !== undefined) info.protocol = this.protocol;
    if (this.owner !== undefined) info.owner = this.owner;
    return info;
  }

  /** How the route is named in messages: pattern, then host and protocol when it has them. */
  describe(): string {
    let text = `${this.kind} route "${this.pattern}"`;
    if (this.host !== undefined) text += ` on host ${this.host}`;
    if (this.protocol !== undefined) text += ` for protocol ${this.protocol}`;
    return text;
  }
}
