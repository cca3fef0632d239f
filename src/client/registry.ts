import type { SharedConnection } from './base-connection.js';
import { Connection } from './connection.js';
import { CrossTabConnection, canShareAcrossTabs } from './cross-tab-connection.js';
import { ClientError } from './errors.js';
import { assertSameOptions, type ConnectOptions, checkOptions, type Resolvable, type UrlInput } from './options.js';
import { keyOf, resolveTarget } from './resolve-target.js';

interface Entry {
  connection: SharedConnection;
  identity: ConnectOptions & { url: unknown };
}

/**
 * Kept on globalThis under a registered symbol, so that every copy of this module in a page (the
 * ESM and CommonJS builds, `switchboard/client` and `switchboard/react` bundled apart) shares one
 * registry: two registries would mean two connections to the same URL again.
 */
const REGISTRY = Symbol.for('switchboard.client.connections');
const realm = globalThis as { [REGISTRY]?: Map<string, Entry> };
realm[REGISTRY] ??= new Map();
const open: Map<string, Entry> = realm[REGISTRY];

/**
 * The shared connection for `url`: opened by the first caller, the same object for every later
 * one, closed when the last of them calls `release()`. Callers must agree on the options.
 */
export function connect(url: Resolvable<UrlInput>, options: ConnectOptions = {}): SharedConnection {
  if (typeof url === 'function' && options.key === undefined) {
    throw new ClientError(
      'ERR_CLIENT_OPTIONS',
      'switchboard/client: connect(() => url) needs a `key` option to name the connection, since a function cannot say which URL it will give',
    );
  }
  checkOptions(options);
  const key = options.key ?? keyOf(url as UrlInput);
  const identity = { ...options, url: typeof url === 'function' ? url : keyOf(url) };
  const existing = open.get(key);
  if (existing) {
    assertSameOptions(key, existing.identity, identity);
    return existing.connection.retain();
  }
  const target = () => resolveTarget(url, options);
  const connection =
    options.shareAcrossTabs && canShareAcrossTabs()
      ? new CrossTabConnection(key, target, options)
      : new Connection(key, target, options);
  const entry: Entry = { connection, identity };
  open.set(key, entry);
  connection.onFinish = () => {
    if (open.get(key) === entry) open.delete(key);
  };
  return connection.retain();
}

/** Keys of the connections open in this JavaScript realm, for diagnostics and tests. */
export function openConnections(): string[] {
  return [...open.keys()];
}
