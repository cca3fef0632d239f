/**
 * `switchboard/client/socketio`: the same sharing for Socket.IO. A separate entry point, so that
 * `switchboard/client` never needs socket.io-client installed.
 */
import { Manager, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { ClientError } from './errors.js';
import { optionsDifference } from './options.js';

export interface SharedSocketOptions extends Partial<ManagerOptions> {
  /** Default: the URL's path if it has one (as with `io(url)`), else `'/'`. */
  namespace?: string;
  /** This namespace's `auth` (an object, or a function called on every connection). */
  auth?: SocketOptions['auth'];
}

/** A socket.io-client `Socket`, the same object for every caller of its namespace, plus `release()`. */
export type SharedSocket = Socket & {
  /** Gives up this caller's hold; the last one disconnects the namespace, and the Manager once no namespace is left. */
  release(): void;
};

interface NamespaceEntry {
  socket: SharedSocket;
  refs: number;
  auth: SocketOptions['auth'] | undefined;
}

interface ManagerEntry {
  manager: Manager;
  options: Partial<ManagerOptions>;
  namespaces: Map<string, NamespaceEntry>;
}

/** On globalThis for the same reason as connect()'s registry: one per page, however often this module is bundled. */
const REGISTRY = Symbol.for('switchboard.client.socketio');
const realm = globalThis as { [REGISTRY]?: Map<string, ManagerEntry> };
realm[REGISTRY] ??= new Map();
const managers: Map<string, ManagerEntry> = realm[REGISTRY];

/**
 * One Manager (one engine.io connection) per URL and engine path, one socket per namespace,
 * reference-counted. Plain `io()` opens a second connection, silently, when the same namespace is
 * asked for twice, when a namespace that was disconnected is asked for again, or with `forceNew`
 * in one of several option objects; here each of those finds the one that is open.
 */
export function sharedSocket(url: string, options: SharedSocketOptions = {}): SharedSocket {
  const { namespace: askedNamespace, auth, ...managerOptions } = options;
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const parsed = new URL(url, base);
  const namespace = askedNamespace ?? (parsed.pathname !== '/' && parsed.pathname !== '' ? parsed.pathname : '/');
  const source = `${parsed.protocol}//${parsed.host}${parsed.search}`;
  const managerKey = `${source}|${managerOptions.path ?? '/socket.io'}`;

  let entry = managers.get(managerKey);
  if (entry) {
    const difference = optionsDifference(entry.options, managerOptions);
    if (difference) {
      throw new ClientError(
        'ERR_CLIENT_OPTIONS',
        `switchboard/client: sharedSocket(${JSON.stringify(url)}): the Manager for ${source} is already open with other options (${difference}). ` +
          'One Manager carries every namespace of a URL, so callers must agree on its options; per-namespace `auth` may differ.',
      );
    }
  } else {
    // The Manager writes its defaults into the object it is given; later callers are compared with what was asked.
    entry = { manager: new Manager(source, { ...managerOptions }), options: { ...managerOptions }, namespaces: new Map() };
    managers.set(managerKey, entry);
  }
  const managerEntry = entry;

  const existing = managerEntry.namespaces.get(namespace);
  if (existing) {
    const difference = optionsDifference(existing.auth, auth, 'auth');
    if (difference) {
      throw new ClientError(
        'ERR_CLIENT_OPTIONS',
        `switchboard/client: sharedSocket(${JSON.stringify(url)}, { namespace: ${JSON.stringify(namespace)} }) is already open with another ${difference}.`,
      );
    }
    existing.refs += 1;
    return existing.socket;
  }

  // A namespace released earlier is still in the Manager's cache: the same Socket comes back, so it is told the new auth.
  const socket = managerEntry.manager.socket(namespace, auth === undefined ? {} : { auth }) as SharedSocket;
  if (auth !== undefined) socket.auth = auth;
  const namespaceEntry: NamespaceEntry = { socket, refs: 1, auth };
  managerEntry.namespaces.set(namespace, namespaceEntry);
  Object.defineProperty(socket, 'release', {
    configurable: true,
    enumerable: false,
    value: () => release(managerKey, managerEntry, namespace, namespaceEntry),
  });
  if (!socket.active) socket.connect();
  return socket;
}

function release(managerKey: string, managerEntry: ManagerEntry, namespace: string, entry: NamespaceEntry): void {
  if (entry.refs === 0) return;
  entry.refs -= 1;
  if (entry.refs > 0) return;
  // Deferred like connect()'s release, so React StrictMode's unmount-and-remount keeps the socket.
  queueMicrotask(() => {
    if (entry.refs > 0 || managerEntry.namespaces.get(namespace) !== entry) return;
    managerEntry.namespaces.delete(namespace);
    entry.socket.disconnect();
    entry.socket.off();
    entry.socket.offAny();
    // The Manager closes its engine by itself once none of its sockets is active.
    if (managerEntry.namespaces.size > 0) return;
    if (managers.get(managerKey) === managerEntry) managers.delete(managerKey);
  });
}

/** Managers open in this JavaScript realm with their namespaces, for diagnostics and tests. */
export function sharedSockets(): Array<{ url: string; namespaces: string[] }> {
  return [...managers].map(([key, entry]) => ({ url: key.split('|')[0] as string, namespaces: [...entry.namespaces.keys()] }));
}
