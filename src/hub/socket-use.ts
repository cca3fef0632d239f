import type { Duplex } from 'node:stream';

/** How a foreign listener used a handshake socket: it answered (or closed) it, or took it over to answer later. */
export type SocketUse = 'answer' | 'take';

/** Writing, ending or destroying a handshake socket answers it. */
const ANSWERS = ['write', 'end', 'destroy'] as const;
/**
 * What code that means to answer later does to a socket first: stop or start its flow, set its
 * timeout and TCP options, push the head back (http-proxy, which Vite's `server.proxy` uses, calls
 * `setTimeout`, `setNoDelay`, `setKeepAlive` and `unshift` before it connects upstream). Adding a
 * listener is not taking: libraries guard every socket they see with an `'error'` listener, Vite
 * and Next.js among them, and Next.js adds a `'close'` listener to the sockets it then leaves alone.
 */
const TAKES = ['pause', 'resume', 'setTimeout', 'setNoDelay', 'setKeepAlive', 'unshift'] as const;
/**
 * A listener for what the client sends is taking, though: code that waits for the socket's data or
 * its end means to act on it then (a test server of ws's own does `socket.on('end', socket.end)`
 * and holds the handshake unanswered, so that the client's handshake timeout fires).
 */
const LISTENS = ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener'] as const;
const READING_EVENTS = new Set<string | symbol>(['data', 'end', 'readable']);
const METHODS = [...ANSWERS, ...TAKES, ...LISTENS];

type Method = (typeof METHODS)[number];

/**
 * Reports through `onUse` what code given a handshake socket does with it, until the socket is
 * answered or the returned function is called. The methods are shadowed by own properties, as
 * `onFirstWrite` does; each is put back only while it is still ours, so that a watcher added
 * before this one (the handshake's own) may end first without leaving a stale wrapper behind.
 */
export function watchSocketUse(socket: Duplex, onUse: (use: SocketUse) => void): () => void {
  const target = socket as unknown as Record<Method, unknown>;
  const before = new Map<Method, PropertyDescriptor | undefined>();
  const wrappers = new Map<Method, unknown>();
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    // In the reverse order of their adding, which rolls the socket back to its former shape.
    for (const method of [...METHODS].reverse()) {
      if (Object.getOwnPropertyDescriptor(target, method)?.value !== wrappers.get(method)) continue;
      const descriptor = before.get(method);
      if (descriptor) Object.defineProperty(target, method, descriptor);
      else delete target[method];
    }
  };
  for (const method of METHODS) {
    before.set(method, Object.getOwnPropertyDescriptor(target, method));
    const answers = (ANSWERS as readonly Method[]).includes(method);
    // Looked up per call: what this wrapper shadows may itself be a wrapper that comes off meanwhile.
    const shadowed = () =>
      (before.get(method)?.value ?? Object.getPrototypeOf(socket)[method]) as (...args: unknown[]) => unknown;
    const wrapper = function (this: Record<Method, (...args: unknown[]) => unknown>, ...args: unknown[]) {
      if (answers) {
        restore();
        onUse('answer');
        return this[method](...args);
      }
      if (!restored && (!(LISTENS as readonly Method[]).includes(method) || READING_EVENTS.has(args[0] as string))) {
        onUse('take');
      }
      return shadowed().apply(this, args);
    };
    wrappers.set(method, wrapper);
    target[method] = wrapper;
  }
  return restore;
}
