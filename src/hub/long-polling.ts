import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { type Match, RouteTable } from '../router/index.js';
import { type AdmissionCheck, admit } from './admission.js';
import type { Limiter } from './limits.js';
import { isBadTarget, parseRequestTarget, type RequestTarget } from './request-target.js';
import type { Route } from './route.js';
import type { UpgradeContext } from './types.js';

/** What request interception needs of its hub. */
export interface RequestsHost {
  readonly server: Server;
  readonly closing: boolean;
  readonly limiter: Limiter;
  readonly admissionChecks: AdmissionCheck[];
  reportError(error: unknown, fields: Record<string, unknown>): void;
  recordRejected(status: number, reason: string, path: string, route: Route | undefined): void;
}

/**
 * Serves the plain HTTP requests of routes that take them (Socket.IO long-polling) before the
 * app's own request listeners see them, under the same checks as a handshake. The server's `emit`
 * is wrapped rather than its listeners reordered, so listeners added later (an app attached after
 * the hub) are covered as well, and every request no such route takes reaches the app untouched,
 * its 404s included.
 */
export class RequestInterception {
  /** Routes that take plain HTTP requests too; a WebSocket-only route never sees one. */
  private readonly table = new RouteTable<Route>();
  /** The server's own `emit` (and whether it was an own property) while it is wrapped. */
  private serverEmit: { emit: Server['emit']; own: boolean } | undefined;

  constructor(private readonly hub: RequestsHost) {}

  add(route: Route): void {
    this.table.add({ pattern: route.pattern, host: route.host }, route);
    this.install();
  }

  remove(route: Route): void {
    this.table.remove({ pattern: route.pattern, host: route.host });
  }

  /** Puts the server's own `emit` back. */
  release(): void {
    if (!this.serverEmit) return;
    const server = this.hub.server;
    const { emit, own } = this.serverEmit;
    if (own) server.emit = emit;
    else delete (server as Partial<Server>).emit;
    this.serverEmit = undefined;
  }

  private install(): void {
    if (this.serverEmit) return;
    const server = this.hub.server;
    const emit = server.emit;
    this.serverEmit = { emit, own: Object.hasOwn(server, 'emit') };
    const interception = this;
    server.emit = function emitThroughHub(this: Server, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'request' && interception.take(args[0] as IncomingMessage, args[1] as ServerResponse)) return true;
      return (emit as (event: string | symbol, ...args: unknown[]) => boolean).call(this, event, ...args);
    } as Server['emit'];
  }

  /** Returns false for a request no HTTP-taking route matches, which then goes to the app. */
  private take(req: IncomingMessage, res: ServerResponse): boolean {
    const target = parseRequestTarget(req);
    if (isBadTarget(target)) return false;
    const match: Match<Route> | undefined = this.table.match({ path: target.path, host: target.host });
    if (!match) return false;
    const hub = this.hub;
    const route = match.value;
    const reject = (status: number, reason: string, headers: Record<string, string | number>) =>
      this.reject(res, status, reason, headers, target.path, route);
    const ctx = requestContext(route, match.params, target, req, hub.limiter.addressIfNeeded(req), reject);
    const serve = () => {
      try {
        route.handleRequest?.(req, res, ctx);
      } catch (error) {
        hub.reportError(error, { during: 'request handler', pattern: route.pattern, path: target.path });
        if (!res.headersSent) reject(500, 'route handler failed', {});
      }
    };
    // CORS preflights carry no credentials, and a continuing session was checked when it began.
    if (req.method === 'OPTIONS' || route.isContinuation?.(req, ctx)) {
      serve();
      return true;
    }
    if (hub.closing) {
      reject(503, 'server is shutting down', { 'Retry-After': 5 });
      return true;
    }
    const refusal = hub.limiter.active ? hub.limiter.admit(ctx.ip ?? 'unknown') : undefined;
    if (refusal) {
      reject(refusal.status, refusal.reason, refusal.headers);
      return true;
    }
    admit(route, req, hub.admissionChecks, (verdict) => {
      if (!verdict.admitted) {
        if (verdict.error !== undefined)
          hub.reportError(verdict.error, { during: 'checks', pattern: route.pattern, path: target.path });
        reject(verdict.status, verdict.reason, verdict.headers ?? {});
        return;
      }
      ctx.principal = verdict.principal;
      ctx.identity = verdict.identity;
      if (!res.destroyed) serve();
    });
    return true;
  }

  private reject(
    res: ServerResponse,
    status: number,
    reason: string,
    headers: Record<string, string | number>,
    path: string,
    route: Route,
  ): void {
    if (!res.headersSent) {
      const body = `${status} ${STATUS_CODES[status] ?? 'Error'}: ${reason}\n`;
      res.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        ...headers,
      });
      res.end(body);
    }
    this.hub.recordRejected(status, reason, path, route);
  }
}

/** The context of a plain HTTP request: the same facts as a handshake's, minus protocols. */
function requestContext(
  route: Route,
  params: Record<string, string>,
  target: RequestTarget,
  req: IncomingMessage,
  /** Known when a limit needed it; else read from the socket if the route asks (as a handshake's). */
  knownIp: string | undefined,
  reject: (status: number, reason: string, headers: Record<string, string | number>) => void,
): UpgradeContext & { principal: unknown; identity: UpgradeContext['identity'] } {
  let query: URLSearchParams | undefined;
  let ip = knownIp;
  return {
    params,
    path: target.path,
    get query() {
      query ??= new URLSearchParams(target.rawQuery);
      return query;
    },
    host: target.host,
    protocols: [],
    pattern: route.pattern,
    get ip() {
      ip ??= req.socket.remoteAddress;
      return ip;
    },
    principal: undefined,
    identity: undefined,
    accept() {},
    reject(status, reason = 'rejected', headers = {}) {
      reject(status, reason, headers);
    },
  };
}
