import { SwitchboardError } from '../errors.js';
import { checkLimits } from './limits.js';
import { consoleLogger, isLogger, type Logger } from './logger.js';
import type { RouteOptions } from './types.js';

export interface HubOptions {
  /** Hub-wide limits on connections and handshake rate, globally and per client address. */
  limits?: import('./limits.js').LimitOptions;
  /** `'reject'`: unmatched handshakes get 404 (default). `'pass'`: left to other `'upgrade'` listeners. */
  unmatched?: 'reject' | 'pass';
  /** A handshake not answered by then gets 408. Default 10 000. */
  handshakeTimeoutMs?: number;
  /** Anything with debug/info/warn/error, pino fits. Default: warnings and errors to the console. */
  logger?: Logger;
}

export interface ResolvedHubOptions {
  limits: import('./limits.js').LimitOptions;
  unmatched: 'reject' | 'pass';
  handshakeTimeoutMs: number;
  logger: Logger;
}

const HUB_OPTION_NAMES = ['unmatched', 'handshakeTimeoutMs', 'logger', 'limits'];
const ROUTE_OPTION_NAMES = [
  'origins',
  'authenticate',
  'authenticateOn',
  'maxConnections',
  'host',
  'protocol',
  'identify',
  'perUser',
  'recover',
  'presence',
];

export function invalidOption(message: string): SwitchboardError {
  return new SwitchboardError('ERR_INVALID_OPTION', message);
}

/** Rejects unknown names with the list of known ones, so a typo is not silently ignored. */
export function checkNames(where: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw invalidOption(`${where}: unknown option "${name}". Known options: ${known.join(', ')}.`);
    }
  }
}

export function resolveHubOptions(options: HubOptions | undefined, extraNames: readonly string[] = []): ResolvedHubOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidOption('switchboard(server, options): options must be an object.');
  }
  const given = options ?? {};
  checkNames('switchboard(server, options)', given, [...HUB_OPTION_NAMES, ...extraNames]);
  const { unmatched = 'reject', handshakeTimeoutMs = 10_000, logger = consoleLogger } = given;
  if (unmatched !== 'reject' && unmatched !== 'pass') {
    throw invalidOption(`switchboard(server, options): unmatched must be "reject" or "pass", not ${JSON.stringify(unmatched)}.`);
  }
  if (!Number.isFinite(handshakeTimeoutMs) || handshakeTimeoutMs <= 0) {
    throw invalidOption(
      `switchboard(server, options): handshakeTimeoutMs must be a positive number of milliseconds, not ${String(handshakeTimeoutMs)}.`,
    );
  }
  if (!isLogger(logger)) {
    throw invalidOption('switchboard(server, options): logger must have debug, info, warn and error methods (pino fits).');
  }
  return { unmatched, handshakeTimeoutMs, logger, limits: checkLimits(given.limits) };
}

export function checkRouteOptions(
  where: string,
  options: RouteOptions | undefined,
  /** The route's library has a connect of its own to authenticate on (Socket.IO's CONNECT packet). */
  canAuthenticateOnConnect = false,
): RouteOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw invalidOption(`${where}: route options must be an object.`);
  checkNames(where, options, ROUTE_OPTION_NAMES);
  const { origins, authenticate, authenticateOn, maxConnections, identify, perUser } = options;
  if (
    origins !== undefined &&
    typeof origins !== 'function' &&
    !(Array.isArray(origins) && origins.every((origin) => typeof origin === 'string'))
  ) {
    throw invalidOption(
      `${where}: origins must be an array of origins ("https://app.example.com") or a function (origin) => boolean.`,
    );
  }
  if (authenticateOn !== undefined && authenticateOn !== 'request' && authenticateOn !== 'connect') {
    throw invalidOption(`${where}: authenticateOn must be "request" or "connect", not ${JSON.stringify(authenticateOn)}.`);
  }
  if (authenticateOn === 'connect') {
    if (!canAuthenticateOnConnect) {
      throw invalidOption(
        `${where}: authenticateOn: "connect" is for Socket.IO routes, whose clients send credentials in the CONNECT packet; ` +
          'this route authenticates on the HTTP request: leave authenticateOn out and read the credentials from req.',
      );
    }
    if (typeof authenticate !== 'function') {
      throw invalidOption(
        `${where}: authenticateOn: "connect" needs authenticate, a function (req, { auth, namespace }) => principal | null, sync or async.`,
      );
    }
  }
  if (authenticate !== undefined && typeof authenticate !== 'function') {
    throw invalidOption(
      `${where}: authenticate must be a function (req) => principal | null, sync or async` +
        `${canAuthenticateOnConnect ? ' (with authenticateOn: "connect", (req, { auth, namespace }) => principal | null)' : ''}.`,
    );
  }
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 0)) {
    throw invalidOption(`${where}: maxConnections must be a whole number >= 0, not ${String(maxConnections)}.`);
  }
  if (identify !== undefined && typeof identify !== 'function') {
    throw invalidOption(`${where}: identify must be a function (principal, req) => ({ userId, tenantId }).`);
  }
  if (options.recover !== undefined && typeof options.recover !== 'boolean') {
    throw invalidOption(`${where}: recover must be true or false, not ${JSON.stringify(options.recover)}.`);
  }
  if (options.presence !== undefined && typeof options.presence !== 'boolean') {
    throw invalidOption(`${where}: presence must be true or false, not ${JSON.stringify(options.presence)}.`);
  }
  if (perUser !== undefined) {
    const valid =
      typeof perUser === 'object' &&
      perUser !== null &&
      Number.isInteger(perUser.max) &&
      perUser.max >= 1 &&
      (perUser.onExceed === undefined || perUser.onExceed === 'reject' || perUser.onExceed === 'replace-oldest');
    if (!valid) {
      throw invalidOption(`${where}: perUser must be { max: n >= 1, onExceed: 'reject' | 'replace-oldest' }.`);
    }
  }
  return options;
}
