import { Listeners } from './listeners.js';
import type { ConnectOptions } from './options.js';
import { reporter } from './options.js';
import type { GapInfo, PresenceInfo } from './recovery-protocol.js';
import type { RequestOptions } from './requests.js';
import { type ConnectionState, type StateListener, StateStore } from './state.js';
import { type EventHandler, encodeEvent, type MessageHandler, Subscribers } from './subscribers.js';

/** What `send` takes: what a WebSocket sends. */
export type Outgoing = string | ArrayBufferLike | ArrayBufferView | Blob;

/**
 * What every caller of `connect(url)` holds, whether the socket is in this tab, in another tab or
 * in a SharedWorker: subscriptions, sends, state, and the reference count.
 */
export abstract class SharedConnection {
  readonly key: string;
  protected readonly report: (error: unknown) => void;
  protected readonly store: StateStore;
  protected readonly subscribers: Subscribers;
  protected readonly gaps: Listeners<GapInfo>;
  protected readonly presences: Listeners<PresenceInfo>;
  private refs = 0;
  protected finished = false;
  /** Set by the registry: forgets this connection once it is closed for good. */
  onFinish: (() => void) | undefined;

  constructor(key: string, options: ConnectOptions) {
    this.key = key;
    this.report = reporter(options);
    this.store = new StateStore(this.report);
    this.subscribers = new Subscribers(this.report);
    this.gaps = new Listeners(this.report);
    this.presences = new Listeners(this.report);
  }

  get state(): ConnectionState {
    return this.store.get();
  }

  /** The current state; bound, so it can be handed to `useSyncExternalStore` as is. */
  readonly getState = (): ConnectionState => this.store.get();

  /** Calls `listener` with every new state; returns the unsubscribe. Bound, like `getState`. */
  readonly onStateChange = (listener: StateListener): (() => void) => this.store.subscribe(listener);

  /**
   * Every message, text or binary. On a route with `recover: true`, room messages come with their
   * position (`{ room, offset, epoch }`) as the second argument. Returns the unsubscribe.
   */
  subscribe(handler: MessageHandler): () => void {
    return this.subscribers.subscribe(handler);
  }

  /** JSON messages `{ "event": event, "data": … }`, with their `data`. Returns the unsubscribe. */
  on<T = unknown>(event: string, handler: EventHandler<T>): () => void {
    return this.subscribers.on(event, handler);
  }

  /**
   * On a route with `recover: true`: told when what `room` got while this client was away could
   * not be replayed (too old for the history, the history was lost, no position to resume from).
   * Nothing of the gap was delivered; reload the room's state. Returns the unsubscribe.
   */
  onGap(listener: (gap: GapInfo) => void): () => void {
    return this.gaps.add(listener);
  }

  /**
   * On a route with `presence: true`: who enters and leaves the rooms this connection is in
   * (`join`: a user's first connection anywhere, `leave`: the last one), and, as it enters a room,
   * who is there (`state`). Returns the unsubscribe.
   */
  onPresence(listener: (presence: PresenceInfo) => void): () => void {
    return this.presences.add(listener);
  }

  /**
   * Sends `event` with `data` to the route's request handler and settles with its answer's data.
   * Rejects with a `ClientError` carrying the server's `code` on an error answer, `ERR_REQUEST_TIMEOUT`
   * after `timeoutMs` (default 10 s), `ERR_CONNECTION_CLOSED` when the connection is closed for good.
   * Waits while offline; sent again with the same id after a reconnect if still unanswered.
   */
  abstract request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T>;

  /**
   * Sends now when open; otherwise queues it (bounded, see `queue`) to be sent in order on the next
   * open. Returns false when the message was dropped. Throws on a closed connection.
   */
  abstract send(data: Outgoing): boolean;

  /** Sends `{ "event": event, "data": data }` as JSON. */
  emit(event: string, data?: unknown): boolean {
    return this.send(encodeEvent(event, data));
  }

  /** Starts again after the connection gave up or was told not to come back; now, if it is waiting. */
  abstract reconnect(): void;

  /** How many callers hold it. */
  get holders(): number {
    return this.refs;
  }

  /** @internal the registry counts each `connect()` here. */
  retain(): this {
    this.refs += 1;
    return this;
  }

  /**
   * Gives up this caller's hold. The last one closes the connection, at the end of the current
   * microtask queue: a holder that comes straight back (React StrictMode unmounts and mounts every
   * effect once) finds it still open instead of paying for a second connection.
   */
  release(): void {
    if (this.refs === 0 || this.finished) return;
    this.refs -= 1;
    if (this.refs > 0) return;
    queueMicrotask(() => {
      if (this.refs === 0) this.close();
    });
  }

  /** Closes it for every holder, now. */
  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.refs = 0;
    this.onFinish?.();
    this.shutdown();
  }

  protected abstract shutdown(): void;
}
