import type { Duplex } from 'node:stream';

/**
 * Calls `onFirstWrite` with the first bytes a route's library writes on a handshake socket, then
 * gets out of the way. Libraries answer a handshake by writing a status line themselves (`ws`
 * writes `101` or its own `400`), so this is how the hub learns that a route answered, and how,
 * without any cooperation from the library.
 */
export function onFirstWrite(
  socket: Duplex,
  onFirstWrite: (chunk: unknown) => void,
  /**
   * Report `end()` only: for a route that reports its `101` itself (`ctx.accept`), whose library
   * writes its refusals with `end()` (ws does). Its first `write()` is then the `101`: the watch
   * ends there without a report, and the accepted handshake's later writes pass untouched.
   */
  endOnly = false,
): () => void {
  // Own properties shadow the prototype's methods; putting back what was there restores them exactly.
  const target = socket as unknown as Record<'write' | 'end', unknown>;
  const before = {
    write: Object.getOwnPropertyDescriptor(target, 'write'),
    end: Object.getOwnPropertyDescriptor(target, 'end'),
  };
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    // In the reverse order of their adding: V8 then rolls the socket back to its former shape.
    // Deleting them in any other order, or after the library added a property of its own (ws
    // sets its WebSocket on the socket right after the 101), turns the socket into a slow
    // dictionary-mode object for the rest of its life, which costs every later access to it, and
    // memory and collection time per connection. So both come off at the library's first write,
    // before it sets the connection up, even where only end() is reported.
    for (const key of ['end', 'write'] as const) {
      const descriptor = before[key];
      if (descriptor) Object.defineProperty(target, key, descriptor);
      else delete target[key];
    }
  };
  target.write = function write(this: Duplex, chunk: unknown, ...rest: unknown[]) {
    restore();
    if (!endOnly) onFirstWrite(chunk);
    return (this.write as (...args: unknown[]) => boolean)(chunk, ...rest);
  };
  target.end = function end(this: Duplex, chunk?: unknown, ...rest: unknown[]) {
    restore();
    onFirstWrite(typeof chunk === 'function' ? undefined : chunk);
    return (this.end as (...args: unknown[]) => Duplex)(chunk, ...rest);
  };
  return restore;
}

/** Told of the first `end()` on a socket watched with `watchEnd`. */
export interface EndWatcher {
  routeEnded(chunk: unknown): void;
}

const END_WATCHER = Symbol('switchboard.endWatcher');
type EndWatched = Duplex & { [END_WATCHER]?: EndWatcher | undefined };

/**
 * Reports the first `end()` of a handshake socket to `watcher`, for a route that reports its `101`
 * itself and whose library refuses with `end()` (ws on the guard's mounts): the cheap form of
 * `onFirstWrite(socket, …, true)`, which guarded handshakes take every time. Nothing is made per
 * handshake: the socket gets a slot for its watcher and one shared `end`, both added before the
 * library adds its own properties and never deleted, so every socket keeps one fast shape.
 * `unwatchEnd` empties the slot; the shared `end` then only hands over to the socket's own.
 * Returns false, watching nothing, when the socket already has an `end` of its own (another
 * library patched it): `onFirstWrite` handles that case.
 */
export function watchEnd(socket: Duplex, watcher: EndWatcher): boolean {
  const target = socket as EndWatched;
  if (target.end !== watchedEnd) {
    if (Object.hasOwn(target, 'end')) return false;
    target[END_WATCHER] = watcher;
    target.end = watchedEnd;
  } else {
    target[END_WATCHER] = watcher;
  }
  return true;
}

export function unwatchEnd(socket: Duplex): void {
  (socket as EndWatched)[END_WATCHER] = undefined;
}

function watchedEnd(this: EndWatched, ...args: unknown[]): Duplex {
  const watcher = this[END_WATCHER];
  if (watcher !== undefined) {
    this[END_WATCHER] = undefined;
    watcher.routeEnded(typeof args[0] === 'function' ? undefined : args[0]);
  }
  // The socket's class's own end(), as a socket without the watch would have called it.
  const end = Object.getPrototypeOf(this).end as (...args: unknown[]) => Duplex;
  return end.apply(this, args);
}

/** The status code of an HTTP/1.x status line at the start of `chunk`, if there is one. */
export function statusOf(chunk: unknown): number | undefined {
  if (chunk === undefined || chunk === null) return undefined;
  const text = typeof chunk === 'string' ? chunk.slice(0, 16) : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, 16) : '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}
