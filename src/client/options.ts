import type { BackoffOptions } from './backoff.js';
import { ClientError } from './errors.js';
import type { QueueOptions } from './send-queue.js';
import type { MessageData } from './subscribers.js';
import type { WebSocketConstructor } from './websocket-constructor.js';

/** A value, or a function (possibly async) called again before every connection attempt. */
export type Resolvable<T> = T | (() => T | Promise<T>);

export type UrlInput = string | URL;

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ReconnectOptions extends BackoffOptions {
  /** Retries in a row before giving up (state `closed`). Default: no limit. */
  maxAttempts?: number;
  /** A connection open this long resets the retry count. Default 5 s. */
  stableAfterMs?: number;
  /** Server close codes that mean "do not come back". Default `[4001, 4002, 4003]`: replaced by the per-user policy, over the per-user limit, disconnected by the server. */
  stopOnCodes?: readonly number[];
  /** Decides the other closes; return false to stay closed. */
  shouldReconnect?: (close: CloseInfo) => boolean;
}

export interface HeartbeatOptions {
  /** Sends `ping` after this long without a message from the server. Default 25 s. */
  intervalMs?: number;
  /** Declares the connection dead when nothing arrives this long after a ping. Default 10 s. */
  timeoutMs?: number;
  /** What to send. Default `'ping'`. The server must answer with any message. */
  ping?: string;
  /** Messages that only answer pings, kept from subscribers. Default: the text `'pong'`. */
  isPong?: (data: MessageData) => boolean;
}

export interface ShareAcrossTabsOptions {
  /**
   * `'auto'` (default): a SharedWorker when the browser has one and `workerUrl` is given, else one
   * tab elected with Web Locks that relays over a BroadcastChannel.
   */
  via?: 'auto' | 'shared-worker' | 'broadcast-channel';
  /** URL of the `switchboard/client/shared-worker` script as the app serves it. */
  workerUrl?: string | URL;
}

export interface ConnectOptions {
  /** Names the shared connection; required when the URL is a function. Default: the URL. */
  key?: string;
  /** Added to the URL's query on every attempt. */
  query?: Resolvable<Record<string, string | number | boolean | null | undefined>>;
  /** A token, added to the query as `authParam` on every attempt (browsers cannot set headers). */
  auth?: Resolvable<string | null | undefined>;
  /** Default `'token'`. */
  authParam?: string;
  /** `Sec-WebSocket-Protocol` values. */
  protocols?: Resolvable<string | string[] | undefined>;
  /** Where the platform has no WebSocket and `ws` is not installed. */
  WebSocket?: WebSocketConstructor;
  /** Default `'arraybuffer'`. */
  binaryType?: 'arraybuffer' | 'blob';
  /** `false` never reconnects. */
  reconnect?: ReconnectOptions | false;
  /** Off by default; `true` uses the defaults. */
  heartbeat?: HeartbeatOptions | boolean;
  queue?: QueueOptions;
  /** One connection for all tabs of the origin. */
  shareAcrossTabs?: boolean | ShareAcrossTabsOptions;
  /** Errors thrown by handlers and listeners. Default `console.error`. */
  onError?: (error: unknown) => void;
  /** Source of jitter, for tests. Default `Math.random`. */
  random?: () => number;
  /**
   * Where the room positions of a route with `recover: true` are kept. `'memory'` (default): for
   * the life of the connection object, which covers every reconnect. `'session'`: in sessionStorage
   * too, so that a reload of the page resumes (browsers; elsewhere it acts as `'memory'`).
   */
  keepPositions?: 'memory' | 'session';
}

const KEEP_POSITIONS: readonly unknown[] = [undefined, 'memory', 'session'];

/** Option values that cannot work, refused at `connect()` rather than misbehaving later. */
export function checkOptions(options: ConnectOptions): void {
  if (!KEEP_POSITIONS.includes(options.keepPositions)) {
    throw new ClientError(
      'ERR_CLIENT_OPTIONS',
      `switchboard/client: keepPositions must be 'memory' or 'session', got ${show(options.keepPositions)}`,
    );
  }
}

export function reporter(options: ConnectOptions): (error: unknown) => void {
  return (error) => {
    if (options.onError) options.onError(error);
    else console.error('switchboard/client:', error);
  };
}

/**
 * Where two option sets differ, or undefined when they are the same. Functions count as the same
 * when they are the same function or have the same source, so that two components each writing
 * `auth: () => getToken()` inline still share a connection.
 */
export function optionsDifference(a: unknown, b: unknown, path = 'options'): string | undefined {
  if (a === b) return undefined;
  if (typeof a === 'function' && typeof b === 'function') {
    return String(a) === String(b) ? undefined : `${path} is another function`;
  }
  if (a instanceof URL || b instanceof URL) return String(a) === String(b) ? undefined : `${path}: ${show(a)} vs ${show(b)}`;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${path}: ${show(a)} vs ${show(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: ${show(a)} vs ${show(b)}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const difference = optionsDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
    if (difference) return difference;
  }
  return undefined;
}

export function assertSameOptions(key: string, first: ConnectOptions, again: ConnectOptions): void {
  const difference = optionsDifference(first, again);
  if (!difference) return;
  throw new ClientError(
    'ERR_CLIENT_OPTIONS',
    `switchboard/client: connect(${JSON.stringify(key)}) is already open with other options (${difference}). ` +
      'Every caller shares one connection per URL, so they must agree on its options: define them once in a module ' +
      'and import them, or give this connection its own `key`.',
  );
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
