import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { SwitchboardError } from '../errors.js';
import { findings } from '../guard/findings.js';
import type { Route, RouteOptions } from '../hub/index.js';
import type { ClusterView } from './cluster-view.js';
import { ConnectionDirectory } from './connection-directory.js';
import type { OperatedHub } from './operated-hub.js';
import { dashboardPage } from './page.js';
import { PresenceView } from './presence-view.js';
import { type OperationsBusMessage, UserLookup } from './user-lookup.js';

export interface DashboardOptions {
  /** Who may see the page, its state and its live channel: the same function as a route's `authenticate`. */
  authenticate?: RouteOptions['authenticate'];
  /** Mount without `authenticate` (a page on a trusted network only). */
  insecure?: boolean;
  /** `false` enables the page's actions (disconnect a user, close a connection); each is logged. Default `true`. */
  readonly?: boolean;
}

export interface MountedDashboard {
  routes: Route[];
  /** The facts the page shows, as `GET <pattern>/state` returns them. */
  state(): DashboardState;
}

export interface DashboardState {
  nodes: ReturnType<ClusterView['nodes']>;
  totals: { nodes: number; connections: number; upgrades: number; accepted: number; rejected: Record<number, number> };
  conflicts: Array<{ summary: string; message: string }>;
  readonly: boolean;
  /** Users online per tenant, cluster-wide (presence); absent when the hub keeps no presence. */
  presence?: { tenants: Record<string, number> };
}

const KNOWN = new Set(['authenticate', 'insecure', 'readonly']);
/** How often the live channel looks for a change to push; nothing is sent while nothing changed. */
const PUSH_INTERVAL_MS = 1_000;

/**
 * The operations page as a feature of the hub: `GET <pattern>` (the page, no external assets),
 * `GET <pattern>/state` (JSON), `<pattern>/live` (a WebSocket that pushes the state when it
 * changes) and, when not read-only, `POST <pattern>/actions`. Every one of them is checked by
 * `authenticate` as a route's handshakes are: the routes are the hub's own.
 */
export function mountDashboard(hub: OperatedHub, pattern: string, options: DashboardOptions = {}): MountedDashboard {
  checkOptions(pattern, options);
  const readonly = options.readonly ?? true;
  const routeOptions: RouteOptions = options.authenticate ? { authenticate: options.authenticate } : {};
  // Every hub reports itself and hears the others (NodeReports): the page reads what it heard.
  const { view } = hub.nodeReports;
  const directory = new ConnectionDirectory(hub, hub.realtime.link.nodeId);
  const presence = new PresenceView(hub);
  const lookup = new UserLookup(hub.realtime.link, directory, () =>
    view
      .nodes()
      .slice(1)
      .map(({ id }) => id),
  );
  const stopHearing = hub.realtime.bus.on<OperationsBusMessage>('operations', (message) => lookup.heard(message.message));

  const state = (): DashboardState => {
    const nodes = view.nodes();
    const rejected: Record<number, number> = {};
    let connections = 0;
    let upgrades = 0;
    let accepted = 0;
    for (const node of nodes) {
      connections += node.stats.connections;
      upgrades += node.stats.upgrades;
      accepted += node.stats.accepted;
      for (const [status, count] of Object.entries(node.stats.rejected)) {
        rejected[Number(status)] = (rejected[Number(status)] ?? 0) + count;
      }
    }
    const result: DashboardState = {
      nodes,
      totals: { nodes: nodes.length, connections, upgrades, accepted, rejected },
      conflicts: findings()
        .filter((finding) => finding.severity === 'conflict')
        .map(({ summary, message }) => ({ summary, message })),
      readonly,
    };
    if (presence.enabled) {
      const tenants = new Set(nodes.flatMap((node) => Object.keys(node.activity.tenants)));
      presence.refresh([...tenants].sort());
      result.presence = { tenants: presence.tenants() };
    }
    return result;
  };

  const live = new WebSocketServer({ noServer: true, clientTracking: true });
  let lastPushed = '';
  const push = setInterval(() => {
    if (live.clients.size === 0) return;
    const current = state();
    const text = JSON.stringify(withoutClock(current));
    if (text === lastPushed) return;
    lastPushed = text;
    const frame = JSON.stringify(current);
    for (const client of live.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
  }, PUSH_INTERVAL_MS);
  push.unref();

  const page = dashboardPage(pattern);
  const serve = (req: IncomingMessage, res: ServerResponse, principal: unknown) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const sub = path.slice(pattern.length);
    if (req.method === 'GET' && (sub === '' || sub === '/')) {
      send(res, 200, 'text/html; charset=utf-8', page);
    } else if (req.method === 'GET' && sub === '/state') {
      send(res, 200, 'application/json', JSON.stringify(state()));
    } else if (req.method === 'GET' && sub.startsWith('/presence/') && sub.length > '/presence/'.length) {
      const room = safeDecode(sub.slice('/presence/'.length));
      if (room === undefined) send(res, 400, 'text/plain; charset=utf-8', 'the room is not valid percent-encoding');
      else if (!presence.enabled) send(res, 404, 'text/plain; charset=utf-8', 'this hub keeps no presence');
      else
        presence.room(room).then(
          (found) => send(res, 200, 'application/json', JSON.stringify(found)),
          (error: Error) => send(res, 503, 'text/plain; charset=utf-8', `presence could not be read: ${error.message}`),
        );
    } else if (req.method === 'GET' && sub.startsWith('/users/') && sub.length > '/users/'.length) {
      const userId = safeDecode(sub.slice('/users/'.length));
      if (userId === undefined) send(res, 400, 'text/plain; charset=utf-8', 'the user id is not valid percent-encoding');
      else lookup.find(userId).then((connections) => send(res, 200, 'application/json', JSON.stringify({ userId, connections })));
    } else if (sub === '/actions' && req.method === 'POST' && !readonly) {
      act(hub, lookup, req, res, principal);
    } else if (sub === '/actions') {
      send(res, readonly ? 403 : 405, 'text/plain; charset=utf-8', readonly ? 'the dashboard is read-only' : 'POST only');
    } else {
      send(res, 404, 'text/plain; charset=utf-8', 'not found');
    }
  };

  // Run once by hub.close(), through the first of the two routes.
  const stop = () => {
    clearInterval(push);
    directory.stop();
    lookup.stop();
    stopHearing();
    return new Promise<void>((resolve) => live.close(() => resolve()));
  };
  const routes = [pattern, `${pattern}/*`].map((routePattern, index) =>
    hub.addRoute({
      pattern: routePattern,
      kind: 'dashboard',
      options: routeOptions,
      handle(req, socket, head, ctx) {
        if (!(req.url ?? '').split('?')[0]?.endsWith('/live')) {
          ctx.reject(404, 'not a WebSocket endpoint of the dashboard');
          return;
        }
        live.handleUpgrade(req, socket, head, (ws) => {
          ctx.accept(ws);
          ws.on('error', () => {});
          ws.send(JSON.stringify(state()));
        });
      },
      handleRequest: (req, res, ctx) => serve(req, res, ctx.principal),
      dispose: index === 0 ? stop : undefined,
    }),
  );
  return { routes, state };
}

/** The state without what changes every report (clocks), to tell whether anything happened. */
function withoutClock(state: DashboardState): unknown {
  return { ...state, nodes: state.nodes.map(({ at: _at, uptimeSeconds: _uptime, ...rest }) => rest) };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

const ACTIONS_HELP =
  'the actions are { "action": "disconnect-user", "userId": "…" } and { "action": "close-connection", "connectionId": "…" } ' +
  '(an id from GET <pattern>/users/<userId>)';

/**
 * `POST <pattern>/actions`: disconnect a user everywhere, or close one connection wherever it is.
 * Each is logged with the principal that asked.
 */
function act(hub: OperatedHub, lookup: UserLookup, req: IncomingMessage, res: ServerResponse, principal: unknown): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > 4_096) req.destroy();
  });
  req.on('end', () => {
    let request: { action?: unknown; userId?: unknown; connectionId?: unknown };
    try {
      request = JSON.parse(body);
    } catch {
      send(res, 400, 'text/plain; charset=utf-8', `expected a JSON body: ${ACTIONS_HELP}`);
      return;
    }
    const { logger } = hub.options;
    if (request.action === 'disconnect-user' && (typeof request.userId === 'string' || typeof request.userId === 'number')) {
      logger.info({ action: request.action, userId: String(request.userId), by: principal }, 'dashboard action');
      hub.disconnectUser(request.userId, 'disconnected from the operations dashboard');
      send(res, 200, 'application/json', JSON.stringify({ done: true }));
    } else if (request.action === 'close-connection' && typeof request.connectionId === 'string') {
      logger.info({ action: request.action, connectionId: request.connectionId, by: principal }, 'dashboard action');
      const done = lookup.close(request.connectionId);
      if (done) send(res, 200, 'application/json', JSON.stringify({ done: true }));
      else send(res, 404, 'text/plain; charset=utf-8', `connection ${request.connectionId} is not open on this node`);
    } else {
      send(res, 400, 'text/plain; charset=utf-8', ACTIONS_HELP);
    }
  });
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function checkOptions(pattern: string, options: DashboardOptions): void {
  const where = `hub.dashboard(${JSON.stringify(pattern)}, options)`;
  if (
    typeof pattern !== 'string' ||
    !pattern.startsWith('/') ||
    pattern.length < 2 ||
    /[:*]/.test(pattern) ||
    pattern.endsWith('/')
  ) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `${where}: the pattern must be a fixed path such as "/_switchboard" (no parameters, no trailing slash).`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `${where}: options must be an object { authenticate, readonly?, insecure? }.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `${where}: unknown option "${key}"; the options are authenticate, readonly and insecure.`,
      );
    }
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `${where}: authenticate must be a function (req) => principal | null, as on routes.`,
    );
  }
  if (!options.authenticate && options.insecure !== true) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `${where}: the dashboard shows every node's routes and connections, so it will not mount without authenticate. ` +
        'Give it one ({ authenticate: (req) => user or null }), or { insecure: true } on a trusted network only.',
    );
  }
}
