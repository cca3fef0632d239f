import { backoffDelay } from './backoff.js';
import { type Outgoing, SharedConnection } from './base-connection.js';
import { ClientError } from './errors.js';
import type { CloseInfo, ConnectOptions, HeartbeatOptions, ReconnectOptions } from './options.js';
import { sessionPositions } from './position-storage.js';
import type { KnownPosition } from './positions.js';
import { Recovery } from './recovery.js';
import type { RoomMessage } from './recovery-protocol.js';
import { type RequestOptions, validTimeout } from './requests.js';
import type { Target } from './resolve-target.js';
import { SendQueue } from './send-queue.js';
import type { MessageData } from './subscribers.js';
import { OPEN, type WebSocketLike, webSocketConstructor } from './websocket-constructor.js';

/** Close code the per-user policy sends to a replaced connection (`REPLACED_CLOSE_CODE` on the server). */
export const REPLACED_CLOSE_CODE = 4001;
/** Over the per-user limit (admitted by two nodes at once); `PER_USER_LIMIT_CLOSE_CODE` on the server. */
export const PER_USER_LIMIT_CLOSE_CODE = 4002;
/** Closed by `hub.disconnectUser()`; `DISCONNECTED_CLOSE_CODE` on the server. */
export const DISCONNECTED_CLOSE_CODE = 4003;
/** Close codes after which the client does not come back unless told to (`reconnect.stopOnCodes`). */
export const DEFAULT_STOP_CODES: readonly number[] = [REPLACED_CLOSE_CODE, PER_USER_LIMIT_CLOSE_CODE, DISCONNECTED_CLOSE_CODE];
export const DEFAULT_STABLE_AFTER_MS = 5_000;
/** Reported as the close code when the client gave up on a socket (dial failed, heartbeat unanswered). */
export const ABNORMAL_CLOSE_CODE = 1006;

const HEARTBEAT_DEFAULTS: Required<HeartbeatOptions> = {
  intervalMs: 25_000,
  timeoutMs: 10_000,
  ping: 'ping',
  isPong: (data) => data === 'pong',
};

const ignore = () => {};

/** One WebSocket, kept open: reconnects with backoff, queues sends while down, watches liveness. */
export class Connection extends SharedConnection {
  private socket: WebSocketLike | undefined;
  /** Bumped for every socket; events of an older socket are ignored. */
  private generation = 0;
  private attempts = 0;
  private everOpened = false;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private deadTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly queue: SendQueue<Outgoing>;
  private readonly policy: ReconnectOptions | false;
  private readonly heartbeat: Required<HeartbeatOptions> | undefined;
  private readonly unlistenNetwork: () => void;
  private readonly recovery: Recovery;

  constructor(
    key: string,
    private readonly target: () => Promise<Target>,
    private readonly options: ConnectOptions = {},
  ) {
    super(key, options);
    this.queue = new SendQueue(options.queue);
    this.policy = options.reconnect === false ? false : (options.reconnect ?? {});
    this.heartbeat = options.heartbeat
      ? { ...HEARTBEAT_DEFAULTS, ...(options.heartbeat === true ? {} : options.heartbeat) }
      : undefined;
    this.recovery = new Recovery(
      {
        deliver: (data, message) => this.subscribers.dispatch(data, message),
        gap: (gap) => this.gaps.emit(gap),
        presence: (presence) => this.presences.emit(presence),
        position: (position) => this.onPosition?.(position),
        report: this.report,
      },
      options.binaryType ?? 'arraybuffer',
      (request) => this.transmit(request.frame),
      options.keepPositions === 'session' ? sessionPositions(key) : undefined,
    );
    this.unlistenNetwork = this.listenToNetwork();
    void this.dial();
  }

  send(data: Outgoing): boolean {
    if (this.stopped && this.store.get().status === 'closed') {
      throw new ClientError('ERR_CONNECTION_CLOSED', `switchboard/client: send() on the closed connection ${this.key}`);
    }
    const socket = this.socket;
    if (socket && socket.readyState === OPEN) {
      socket.send(data);
      return true;
    }
    return this.queue.push(data);
  }

  request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T> {
    try {
      return this.relayRequest(this.recovery.requests.newId(), event, data, validTimeout(options)) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * @internal `request` with the id chosen by the caller: another tab's request, relayed by the tab
   * or worker that holds the socket. The same id again while pending joins the first.
   */
  relayRequest(id: string, event: string, data: unknown, timeoutMs: number): Promise<unknown> {
    if (this.finished) {
      return Promise.reject(
        new ClientError('ERR_CONNECTION_CLOSED', `switchboard/client: request() on the closed connection ${this.key}`),
      );
    }
    return this.recovery.requests.start(id, event, data, timeoutMs);
  }

  /** @internal told about every position the server gives, so that a tab taking over the socket resumes from it. */
  onPosition: ((position: RoomMessage) => void) | undefined;

  /**
   * @internal positions learnt before this connection existed (the tab that held the socket
   * before), rooms with a gap reported after their position included as such.
   */
  seedPositions(positions: Iterable<KnownPosition>): void {
    for (const position of positions) this.recovery.positions.merge(position);
  }

  reconnect(): void {
    if (this.finished) return;
    if (this.stopped) {
      this.stopped = false;
      this.attempts = 0;
      void this.dial();
      return;
    }
    if (this.retryTimer !== undefined) this.retryNow();
  }

  protected shutdown(): void {
    this.stopped = true;
    this.unlistenNetwork();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.abandonSocket(1000, 'closed by the app');
    for (const dropped of this.queue.drain()) this.options.queue?.onDrop?.(dropped);
    this.recovery.positions.flush();
    this.recovery.requests.failAll(
      'ERR_CONNECTION_CLOSED',
      `switchboard/client: the connection ${this.key} was closed before the answer came`,
    );
    this.store.set({ status: 'closed', retryInMs: undefined, lastCloseCode: 1000, lastCloseReason: 'closed by the app' });
  }

  private async dial(): Promise<void> {
    const generation = ++this.generation;
    this.store.set({ status: this.everOpened || this.attempts > 0 ? 'reconnecting' : 'connecting', retryInMs: undefined });
    let socket: WebSocketLike;
    try {
      const [WebSocketClass, target] = await Promise.all([webSocketConstructor(this.options.WebSocket), this.target()]);
      if (generation !== this.generation) return;
      socket = new WebSocketClass(this.recovery.dialUrl(target.url), target.protocols);
    } catch (error) {
      if (generation !== this.generation) return;
      this.report(error);
      const fatal = error instanceof ClientError && error.code === 'ERR_NO_WEBSOCKET';
      const message = error instanceof Error ? error.message : String(error);
      this.lost({ code: ABNORMAL_CLOSE_CODE, reason: `could not dial: ${message}` }, fatal);
      return;
    }
    this.socket = socket;
    socket.binaryType = this.options.binaryType ?? 'arraybuffer';
    socket.onopen = () => {
      if (generation === this.generation) this.opened(socket);
    };
    socket.onmessage = (event) => {
      if (generation === this.generation) this.received(event.data as MessageData);
    };
    socket.onclose = (event) => {
      if (generation !== this.generation) return;
      this.socket = undefined;
      this.lost({ code: event.code, reason: event.reason });
    };
    // A close event always follows an error one; with `ws` an error without a listener would throw.
    socket.onerror = ignore;
  }

  private opened(socket: WebSocketLike): void {
    this.everOpened = true;
    // Flushed before the state changes, so that whatever a state listener sends goes after them.
    for (const data of this.queue.drain()) socket.send(data);
    // Requests after the queued sends: they were either made later, or already sent once on the last socket.
    this.recovery.opened();
    this.store.set({ status: 'open', retryInMs: undefined });
    const stableAfter = this.policy === false ? undefined : (this.policy.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS);
    if (stableAfter !== undefined) {
      this.stableTimer = setTimeout(() => {
        this.attempts = 0;
        this.store.set({ attempt: 0 });
      }, stableAfter);
    }
    this.armPing();
  }

  private received(data: MessageData): void {
    if (this.heartbeat) {
      clearTimeout(this.deadTimer);
      this.deadTimer = undefined;
      this.armPing();
      if (this.heartbeat.isPong(data)) return;
    }
    this.recovery.receive(data);
  }

  /** A request frame onto the open socket; false while there is none (sent on the next open). */
  private transmit(frame: string): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(frame);
    return true;
  }

  private lost(close: CloseInfo, fatal = false): void {
    clearTimeout(this.stableTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
    this.store.set({ lastCloseCode: close.code, lastCloseReason: close.reason });
    if (this.stopped) return;
    if (fatal || !this.mayReconnect(close)) {
      this.stopped = true;
      this.store.set({ status: 'closed', retryInMs: undefined });
      return;
    }
    this.scheduleRetry();
  }

  private mayReconnect(close: CloseInfo): boolean {
    if (this.policy === false) return false;
    if ((this.policy.stopOnCodes ?? DEFAULT_STOP_CODES).includes(close.code)) return false;
    return this.policy.shouldReconnect?.(close) ?? true;
  }

  private scheduleRetry(): void {
    const policy = this.policy as ReconnectOptions;
    const attempt = this.attempts + 1;
    if (policy.maxAttempts !== undefined && attempt > policy.maxAttempts) {
      this.stopped = true;
      this.store.set({ status: 'closed', retryInMs: undefined });
      return;
    }
    this.attempts = attempt;
    const delay = backoffDelay(attempt, policy, this.options.random);
    this.store.set({ status: 'reconnecting', attempt, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.dial();
    }, delay);
  }

  private retryNow(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.dial();
  }

  private armPing(): void {
    if (!this.heartbeat) return;
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.ping(), this.heartbeat.intervalMs);
  }

  private ping(): void {
    const socket = this.socket;
    if (!this.heartbeat || !socket || socket.readyState !== OPEN) return;
    socket.send(this.heartbeat.ping);
    this.deadTimer ??= setTimeout(() => this.dead(), this.heartbeat.timeoutMs);
  }

  /** No answer to a ping: the network dropped without a close. Waiting for TCP to notice can take minutes. */
  private dead(): void {
    this.deadTimer = undefined;
    this.abandonSocket(4000, 'heartbeat timeout');
    this.lost({ code: ABNORMAL_CLOSE_CODE, reason: 'heartbeat timeout' });
  }

  private abandonSocket(code: number, reason: string): void {
    this.generation += 1;
    const socket = this.socket;
    this.socket = undefined;
    clearTimeout(this.stableTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = ignore;
    const terminate = (socket as { terminate?: () => void }).terminate;
    try {
      // `ws` would wait 30 s for the peer's close frame on a dead link; a browser socket has no terminate.
      if (code !== 1000 && typeof terminate === 'function') terminate.call(socket);
      else socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  /** Back online: a retry waiting out its backoff goes now. Offline: an open socket is probed at once. */
  private listenToNetwork(): () => void {
    const target = globalThis as {
      addEventListener?: EventTarget['addEventListener'];
      removeEventListener?: EventTarget['removeEventListener'];
    };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return ignore;
    const online = () => {
      if (this.retryTimer !== undefined) this.retryNow();
    };
    const offline = () => {
      if (this.socket?.readyState === OPEN) this.ping();
    };
    target.addEventListener('online', online);
    target.addEventListener('offline', offline);
    return () => {
      target.removeEventListener?.('online', online);
      target.removeEventListener?.('offline', offline);
    };
  }
}
