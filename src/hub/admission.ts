import type { IncomingMessage } from 'node:http';
import type { Route } from './route.js';
import type { Identity, SocketIOConnect } from './types.js';

/** The outcome of a route's checks for one request. */
export type Verdict =
  | { admitted: true; principal: unknown; identity: Identity | undefined }
  | { admitted: false; status: number; reason: string; headers?: Record<string, string | number>; error?: unknown };

/**
 * A further check that runs once the principal is known (the per-user connection policy is one);
 * returns a refusal, or nothing to admit.
 */
export type AdmissionCheck = (
  route: Route,
  identity: Identity | undefined,
  req: IncomingMessage,
) => Refusal | undefined | Promise<Refusal | undefined>;

export interface Refusal {
  status: number;
  reason: string;
  headers?: Record<string, string | number>;
}

/**
 * Runs a route's checks in the documented order: origin (403), connection limit (503),
 * authenticate (401, sync or async), identify, then the extra checks. Calls `done` exactly once,
 * synchronously when no check is asynchronous so that a plain route adds no tick to a handshake.
 */
export function admit(
  route: Route,
  req: IncomingMessage,
  extraChecks: readonly AdmissionCheck[],
  done: (verdict: Verdict) => void,
  /** Called once the limit check passed, to hold a slot while the later checks run. */
  reserve?: () => void,
): void {
  const { options } = route;
  if (options.origins !== undefined && !originAllowed(options.origins, req.headers.origin)) {
    done({ admitted: false, status: 403, reason: 'origin not allowed' });
    return;
  }
  if (options.maxConnections !== undefined && route.connections.size + route.reserved >= options.maxConnections) {
    done({ admitted: false, status: 503, reason: 'route is at its connection limit', headers: { 'Retry-After': 5 } });
    return;
  }
  reserve?.();
  // A route that authenticates on its library's connect (Socket.IO's CONNECT packet) finds the
  // credentials there, not in this request: see `admitOnConnect`.
  if (options.authenticateOn === 'connect' || !options.authenticate) {
    settle(identified(route, req, undefined, extraChecks), done);
    return;
  }
  let result: unknown;
  try {
    result = options.authenticate(req);
  } catch (error) {
    done(authenticationFailed(error));
    return;
  }
  afterAuthenticate(result, route, req, extraChecks, done);
}

/**
 * The checks of a route with `authenticateOn: 'connect'` that wait for the connect: authenticate
 * with the CONNECT packet's payload, identify, then the extra checks. Origin and connection limit
 * were checked on the request that opened the session.
 */
export function admitOnConnect(
  route: Route,
  req: IncomingMessage,
  connect: SocketIOConnect,
  extraChecks: readonly AdmissionCheck[],
  done: (verdict: Verdict) => void,
): void {
  const { options } = route;
  if (options.authenticateOn !== 'connect' || !options.authenticate) {
    settle(identified(route, req, undefined, extraChecks), done);
    return;
  }
  let result: unknown;
  try {
    result = options.authenticate(req, connect);
  } catch (error) {
    done(authenticationFailed(error));
    return;
  }
  afterAuthenticate(result, route, req, extraChecks, done);
}

/** What `authenticate` returned (or will), through identify and the extra checks, to a verdict. */
function afterAuthenticate(
  result: unknown,
  route: Route,
  req: IncomingMessage,
  extraChecks: readonly AdmissionCheck[],
  done: (verdict: Verdict) => void,
): void {
  if (isPromiseLike(result)) {
    result.then(
      (principal) => settle(authenticated(route, req, principal, extraChecks), done),
      (error) => done(authenticationFailed(error)),
    );
  } else {
    settle(authenticated(route, req, result, extraChecks), done);
  }
}

function authenticationFailed(error: unknown): Verdict {
  return { admitted: false, status: 401, reason: 'authentication failed', error };
}

/** Hands a verdict over at once when it is ready, or when the asynchronous checks are done. */
function settle(verdict: Verdict | Promise<Verdict>, done: (verdict: Verdict) => void): void {
  if (isPromiseLike(verdict)) {
    (verdict as Promise<Verdict>).then(done, (error) =>
      done({ admitted: false, status: 503, reason: 'admission check failed', error }),
    );
  } else {
    done(verdict);
  }
}

function authenticated(
  route: Route,
  req: IncomingMessage,
  principal: unknown,
  extraChecks: readonly AdmissionCheck[],
): Verdict | Promise<Verdict> {
  if (principal === null || principal === undefined || principal === false) {
    return { admitted: false, status: 401, reason: 'authentication failed' };
  }
  return identified(route, req, principal, extraChecks);
}

function identified(
  route: Route,
  req: IncomingMessage,
  principal: unknown,
  extraChecks: readonly AdmissionCheck[],
): Verdict | Promise<Verdict> {
  let identity: Identity | undefined;
  if (principal !== undefined) {
    try {
      const { identify } = route.options;
      identity = identify ? (identify(principal, req) ?? undefined) : ownIdentity(principal);
      if (identity) identity = normalizeIdentity(identity);
    } catch (error) {
      return { admitted: false, status: 500, reason: 'route identify failed', error };
    }
  }
  return runChecks(route, req, principal, identity, extraChecks, 0);
}

/** The extra checks in order; synchronous while they are, asynchronous from the first that is not. */
function runChecks(
  route: Route,
  req: IncomingMessage,
  principal: unknown,
  identity: Identity | undefined,
  checks: readonly AdmissionCheck[],
  from: number,
): Verdict | Promise<Verdict> {
  for (let index = from; index < checks.length; index++) {
    const outcome = (checks[index] as AdmissionCheck)(route, identity, req);
    if (isPromiseLike(outcome)) {
      return (outcome as Promise<Refusal | undefined>).then((refusal) =>
        refusal ? { admitted: false, ...refusal } : runChecks(route, req, principal, identity, checks, index + 1),
      );
    }
    if (outcome) return { admitted: false, ...outcome };
  }
  return principal === undefined && identity === undefined ? ADMITTED_ANONYMOUS : { admitted: true, principal, identity };
}

/** The verdict of most handshakes (no authenticate), shared rather than made for each of them. */
const ADMITTED_ANONYMOUS: Verdict = Object.freeze({ admitted: true, principal: undefined, identity: undefined });

export function originAllowed(
  origins: readonly string[] | ((origin: string | undefined) => boolean),
  origin: string | undefined,
): boolean {
  if (typeof origins === 'function') {
    try {
      return origins(origin) === true;
    } catch {
      return false;
    }
  }
  // Browsers always send Origin on a WebSocket handshake; a client without one is not a browser
  // and could send any value it liked, so a list guards browsers only (cross-site hijacking).
  if (origin === undefined) return true;
  const wanted = origin.toLowerCase();
  return origins.some((allowed) => allowed.toLowerCase().replace(/\/$/, '') === wanted);
}

function ownIdentity(principal: unknown): Identity | undefined {
  if (typeof principal !== 'object' || principal === null) return undefined;
  const { userId, tenantId } = principal as Record<string, unknown>;
  return normalizeIdentity({ userId, tenantId } as Identity);
}

/** Ids are compared as strings everywhere (rooms, counts), so `7` and `'7'` are one user. */
export function normalizeIdentity(identity: Identity): Identity | undefined {
  const result: Identity = {};
  const { userId, tenantId } = identity as Record<string, unknown>;
  if (typeof userId === 'string' || typeof userId === 'number') result.userId = String(userId);
  if (typeof tenantId === 'string' || typeof tenantId === 'number') result.tenantId = String(tenantId);
  return result.userId === undefined && result.tenantId === undefined ? undefined : result;
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
