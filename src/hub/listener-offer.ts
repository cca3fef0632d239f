import type { Duplex } from 'node:stream';
import { isPromiseLike } from './admission.js';
import { callNotingAsyncWork } from './async-work.js';
import { type SocketUse, watchSocketUse } from './socket-use.js';

/** The reason given with the 404 when every listener declined. */
export const NOT_TAKEN = 'no route or upgrade listener took this path';

/**
 * What became of a handshake socket offered to foreign listeners:
 * - `'answered'`: a listener wrote to it, ended or destroyed it, or the client went away;
 * - `'declined'`: every listener is done with it and none used it, so nobody will answer it;
 * - `'pending'`: a listener may still answer it, because it took the socket over or started
 *   asynchronous work it did not return a promise for; only a deadline can tell;
 * - `'failed'`: a listener threw, or its promise rejected, before the socket was answered.
 */
export type OfferVerdict = 'answered' | 'declined' | 'pending' | 'failed';

/** How an offer reaches its listeners (`L`: a listener, or whatever its owner keeps it in). */
export interface OfferHooks<L> {
  /** Calls one listener with the handshake, with its owner's `this`; returns what the listener returned. */
  call(listener: L): unknown;
  /** Called once, as soon as the verdict is known (synchronously when every listener decided at once). */
  verdict(verdict: OfferVerdict): void;
  /** Every error a listener throws or rejects with, before or after the verdict. */
  error(error: unknown, listener: L): void;
}

/**
 * Offers a handshake socket to foreign listeners in turn, and tells as early as it can whether
 * one of them answers it or none will.
 *
 * A listener says nothing when it ignores a socket, so this is read off what it does. One that
 * answers (writes, ends, destroys) or takes the socket over (see `watchSocketUse`) keeps it, and
 * no later listener is offered it. One that returns a promise is judged when the promise settles,
 * and the next listener waits until then. One that returns anything else without having used the
 * socket has declined it if it started no asynchronous work meanwhile (see `callNotingAsyncWork`);
 * if it did (a callback-style lookup before `handleUpgrade`), it may still answer, so the verdict
 * is `'pending'`, and the next listener is offered the socket all the same, as the server itself
 * would have done.
 *
 * How the libraries tested with it decline:
 * - Vite 8 (`vite/dist/node/chunks/node.js`, `createWebSocketServer`) decides at once:
 *   `if (["vite-hmr", "vite-ping"].includes(protocol) && parsedUrl.pathname === hmrBase) handleUpgrade(...)`
 *   `else socket.on("error", noop);` and returns: nothing started, declined.
 * - Next.js 16 never says. Its listener (`next/dist/server/next.js`, `setupWebSocketHandler`) is
 *   `async (req, socket, head) => { this.upgradeHandler(req, socket, head); }`, which does not
 *   await the handler, so its promise settles as soon as the handler's synchronous part has run.
 *   That part (`next/dist/server/lib/router-server.js`, `upgradeHandler`) takes the hot-reload
 *   socket at once (`hotReloader.onHMR` → ws's `handleUpgrade`, which writes the 101), and
 *   otherwise only adds an `'error'` and a `'close'` listener before `await resolveRoutes(...)`;
 *   after that it ends the socket of a page's path, proxies a rewrite to another server, or, for
 *   any other path, does nothing ("we don't handle the request as user's custom WS server may be
 *   listening on the same path"). Taken at its promise, Next.js has declined every socket but the
 *   hot-reload one by then; a WebSocket rewrite, which it would proxy only later, needs a route of
 *   its own.
 */
export class ListenerOffer<L> {
  private answered = false;
  private taken = false;
  private mayAnswer = false;
  /** A listener's promise is being waited for. */
  private waiting = false;
  private decided = false;
  private stopped = false;
  private restoreSocket: (() => void) | undefined;
  private readonly onClose = () => this.onUse('answer');
  /** How many listeners were called: the last of them is the one that answered, on an `'answered'` verdict. */
  offered = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly listeners: readonly L[],
    private readonly hooks: OfferHooks<L>,
  ) {}

  /** A listener has the socket or is still deciding: what a deadline should answer `408` rather than `404` for. */
  get working(): boolean {
    return this.taken || this.waiting;
  }

  /** Whether the socket was answered (or closed), as far as was seen before `stop()`. */
  get isAnswered(): boolean {
    return this.answered || this.socket.destroyed;
  }

  start(): void {
    this.restoreSocket = watchSocketUse(this.socket, (use) => this.onUse(use));
    // 'close' is never emitted synchronously: it tells of a client gone while a promise is awaited.
    this.socket.once('close', this.onClose);
    this.offer(0);
  }

  /** Stops watching the socket; a listener's promise that settles later changes nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.restoreSocket?.();
    this.socket.removeListener('close', this.onClose);
  }

  private offer(index: number): void {
    while (index < this.listeners.length) {
      if (this.isAnswered || this.taken) break;
      const listener = this.listeners[index++] as L;
      this.offered = index;
      let outcome: { result: unknown; startedAsyncWork: boolean };
      try {
        outcome = callNotingAsyncWork(() => this.hooks.call(listener));
      } catch (error) {
        this.hooks.error(error, listener);
        this.decide(this.isAnswered ? 'answered' : 'failed');
        return;
      }
      if (isPromiseLike(outcome.result)) {
        this.waitFor(outcome.result, listener, index);
        return;
      }
      if (outcome.startedAsyncWork) this.mayAnswer = true;
    }
    if (this.isAnswered) this.decide('answered');
    else this.decide(this.taken || this.mayAnswer ? 'pending' : 'declined');
  }

  private waitFor(promise: PromiseLike<unknown>, listener: L, next: number): void {
    // Answered while it ran, the socket needs no more waiting; the promise's rejection is reported all the same.
    const done = this.isAnswered;
    if (!done) this.waiting = true;
    promise.then(
      () => {
        if (done || this.stopped || this.decided) return;
        this.waiting = false;
        this.offer(next);
      },
      (error: unknown) => {
        this.hooks.error(error, listener);
        if (done || this.stopped || this.decided) return;
        this.waiting = false;
        this.decide(this.isAnswered ? 'answered' : 'failed');
      },
    );
    if (done) this.decide('answered');
  }

  private onUse(use: SocketUse): void {
    if (use === 'answer') this.answered = true;
    else this.taken = true;
    if (this.waiting && !this.decided) {
      // Seen while a listener's promise is awaited: that listener answered, or has the socket.
      this.waiting = false;
      this.decide(use === 'answer' ? 'answered' : 'pending');
    } else if (use === 'answer' && this.decided) {
      // A pending socket answered at last: nothing is left to watch.
      this.stop();
    }
  }

  private decide(verdict: OfferVerdict): void {
    if (this.decided) return;
    this.decided = true;
    // A pending socket stays watched, so that its deadline can tell whether it was answered meanwhile.
    if (verdict !== 'pending') this.stop();
    this.hooks.verdict(verdict);
  }
}
