import type { IncomingMessage } from 'node:http';
import type { Namespace, Socket } from 'socket.io';
import { SwitchboardError } from '../errors.js';
import { admitOnConnect, type Hub, type Identity, normalizeIdentity, type Route, type UpgradeContext } from '../hub/index.js';
import { tenantRoom, userRoom } from '../realtime/rooms.js';
import { RestoredSessions } from './socketio-restored.js';

/**
 * Called for each socket joining a namespace once its identity is final, after the app's own
 * middlewares; `next(err)` refuses it (the client gets `connect_error` with `err.data`).
 */
export type NamespaceGate = (socket: Socket, identity: Identity | undefined, route: Route, next: (error?: Error) => void) => void;

/** Socket.IO's own step that runs a namespace's middlewares, all of them, whenever they were added. */
type RunMiddlewares = (socket: Socket, fn: (error?: Error) => void) => void;

/** The identity fields as they were before the app's middlewares ran, to tell what they changed. */
interface Before {
  identity: Identity | undefined;
  userId: unknown;
  tenantId: unknown;
}

/**
 * Takes part in every connect to `nsp`, around the app's own middlewares. Before them, the
 * principal lands in `socket.data` (authenticated here, with the CONNECT packet's payload, on a
 * route with `authenticateOn: 'connect'`). After them the identity is final, the hub's or one the
 * app's middleware put in `socket.data.userId` / `tenantId`, so only then does the per-user policy
 * run and the socket join its user's and tenant's rooms. Wrapping Socket.IO's run of the
 * middlewares rather than adding middlewares keeps both ends in place whatever the app adds
 * later, and a refusal at either end still reaches the client as `connect_error`.
 */
export function takePartInConnects(
  hub: Hub,
  route: Route,
  nsp: Namespace,
  contextOf: (req: IncomingMessage | undefined) => UpgradeContext | undefined,
  gate: NamespaceGate | undefined,
): void {
  const internals = nsp as unknown as { run?: RunMiddlewares };
  const runMiddlewares = internals.run;
  if (typeof runMiddlewares !== 'function') {
    throw new SwitchboardError(
      'ERR_MISSING_PEER',
      `hub.socketio(io): namespace ${nsp.name} has no middleware run to take part in; this Socket.IO version is not supported (use socket.io ^4.6).`,
    );
  }
  const restored = new RestoredSessions(nsp);
  restored.watch(nsp, route, gate);
  internals.run = (socket, fn) => {
    admitPrincipal(hub, route, nsp, socket, contextOf, (before) => {
      if (before instanceof Error) {
        fn(before);
        return;
      }
      runMiddlewares.call(nsp, socket, (error) => {
        if (error) {
          fn(error);
          return;
        }
        const identity = finalIdentity(socket, before);
        restored.gatedWith(socket, identity);
        const join = () => {
          if (identity?.userId !== undefined) socket.join(userRoom(identity.userId));
          if (identity?.tenantId !== undefined) socket.join(tenantRoom(identity.tenantId));
          fn();
        };
        if (gate) gate(socket, identity, route, (refused) => (refused ? fn(refused) : join()));
        else join();
      });
    });
  };
}

/**
 * The principal's fields, the principal itself and the identity in `socket.data`, where the app's
 * middlewares find them: from the session's request, or authenticated now with the CONNECT payload.
 */
function admitPrincipal(
  hub: Hub,
  route: Route,
  nsp: Namespace,
  socket: Socket,
  contextOf: (req: IncomingMessage | undefined) => UpgradeContext | undefined,
  then: (outcome: Before | Error) => void,
): void {
  const req = socket.conn.request;
  if (route.options.authenticateOn !== 'connect') {
    const ctx = contextOf(req);
    then(intoSocketData(socket, ctx?.principal, ctx?.identity));
    return;
  }
  const connect = { auth: socket.handshake.auth ?? {}, namespace: nsp.name };
  admitOnConnect(route, req, connect, hub.admissionChecks, (verdict) => {
    if (verdict.admitted) {
      then(intoSocketData(socket, verdict.principal, verdict.identity));
      return;
    }
    if (verdict.error !== undefined) {
      hub.reportError(verdict.error, { during: 'checks on connect', pattern: route.pattern, namespace: nsp.name });
    }
    then(refusal(verdict.reason, verdict.status));
  });
}

function intoSocketData(socket: Socket, principal: unknown, identity: Identity | undefined): Before {
  if (principal !== undefined) {
    if (typeof principal === 'object' && principal !== null) Object.assign(socket.data, principal);
    socket.data.principal = principal;
  }
  if (identity?.userId !== undefined) socket.data.userId = identity.userId;
  if (identity?.tenantId !== undefined) socket.data.tenantId = identity.tenantId;
  return { identity, userId: socket.data.userId, tenantId: socket.data.tenantId };
}

/**
 * The hub's identity, except for what the app's middlewares changed in `socket.data`: a principal
 * that merely has a `userId` field is not an identity unless `identify` (or the app) says so.
 */
function finalIdentity(socket: Socket, before: Before): Identity | undefined {
  const data = (socket.data ?? {}) as Record<string, unknown>;
  const userId = data.userId !== before.userId ? data.userId : before.identity?.userId;
  const tenantId = data.tenantId !== before.tenantId ? data.tenantId : before.identity?.tenantId;
  return normalizeIdentity({ userId, tenantId } as Identity);
}

/** How Socket.IO tells a client why its connect was refused: `connect_error` with `err.data`. */
function refusal(reason: string, code: number): Error {
  const error = new Error(reason) as Error & { data?: unknown };
  error.data = { code };
  return error;
}
