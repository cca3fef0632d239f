import { WebSocket } from 'ws';
import {
  ClientError,
  connect,
  type MessageData,
  type SharedConnection,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import type { Random } from './prng.js';
import type { FaultProxy } from './proxy.js';

/**
 * What one client saw, in the order it saw it. `socket` numbers the client's WebSocket attempts;
 * `frame` numbers the frames it received, so that what the client did on one frame (a gap it reports
 * on a `pos`, a delivery) is known to belong to that frame.
 */
export type ClientEvent = { frame: number } & (
  | { t: number; kind: 'open'; socket: number; node: number }
  | { t: number; kind: 'close'; socket: number; code: number }
  /** A `pos` frame as it came over the wire (the client API does not hand them out). */
  | { t: number; kind: 'pos'; socket: number; room: string; offset: number; epoch: string }
  /** What `subscribe` handed the app: the payload, and the position when it came with one. */
  | {
      t: number;
      kind: 'deliver';
      socket: number;
      room: string;
      pub: string;
      seq: number;
      offset?: number;
      epoch?: string;
    }
  /** A `msg` or `gap` frame as it came over the wire, before the client acted on it (for telling client from server). */
  | {
      t: number;
      kind: 'frame';
      socket: number;
      sb: 'msg' | 'gap';
      room: string;
      offset?: number;
      epoch?: string;
      reason?: string;
    }
  /** A `res` frame as it came over the wire: the answer the server sent for a request id (JSON of data or error). */
  | { t: number; kind: 'res'; socket: number; id: string; answer: string; error?: string }
  /** What `onGap` told the app. */
  | { t: number; kind: 'gap'; socket: number; room: string; reason: string }
);

/** An event before it is stamped (Omit over each member of the union, not over the union). */
type Untimed<T> = T extends unknown ? Omit<T, 't' | 'frame'> : never;

export interface RequestRecord {
  rid: string;
  client: string;
  sentAt: number;
  timeoutMs: number;
  settledAt?: number;
  /** `data`: answered; else the error's code. */
  outcome?: 'data' | string;
  answer?: unknown;
  message?: string;
}

/**
 * One real `switchboard/client` connection with an identity of its own, in 2–3 rooms (`?rooms=`).
 * Every attempt dials the proxy of a node chosen at random, another node than the last one (the
 * URL is a function, called again before every attempt), so a client moves on after a cut. A
 * WebSocket constructor of its own taps the frames under the client: which socket each delivery
 * came on, and the `pos` frames that say where a room starts for it.
 */
export class FaultClient {
  readonly events: ClientEvent[] = [];
  readonly requests: RequestRecord[] = [];
  /** Non-fatal errors the client reported (malformed frames, server `error` frames). */
  readonly errors: string[] = [];
  readonly connection: SharedConnection;
  private sockets = 0;
  /** The socket whose frame is being handled: deliveries and gaps happen inside its message event. */
  private current = 0;
  private frames = 0;
  private currentFrame = 0;
  private lastNode: number | undefined;
  private requestCount = 0;
  lastEventAt = Date.now();

  constructor(
    readonly id: string,
    readonly user: string,
    readonly rooms: string[],
    private readonly proxies: FaultProxy[],
    private readonly random: Random,
    key: string,
  ) {
    const tap = this.tappedWebSocket();
    this.connection = connect(() => this.url(), {
      key,
      WebSocket: tap,
      reconnect: { baseDelayMs: 100, maxDelayMs: 1_000 },
      random: () => this.random.next(),
      onError: (error) => this.errors.push(error instanceof Error ? error.message : String(error)),
    });
    this.connection.subscribe((data, message) => this.delivered(data, message));
    this.connection.onGap(({ room, reason }) => this.push({ kind: 'gap', socket: this.current, room, reason }));
  }

  get open(): boolean {
    return this.connection.state.status === 'open';
  }

  /** Sends one `work` request; what becomes of it is recorded, never thrown. */
  request(timeoutMs: number): void {
    const rid = `${this.id}-${++this.requestCount}`;
    const record: RequestRecord = { rid, client: this.id, sentAt: Date.now(), timeoutMs };
    this.requests.push(record);
    this.connection.request('work', { rid }, { timeoutMs }).then(
      (answer) => {
        record.settledAt = Date.now();
        record.outcome = 'data';
        record.answer = answer;
      },
      (error: unknown) => {
        record.settledAt = Date.now();
        record.outcome = error instanceof ClientError ? error.code : 'ERR_UNEXPECTED';
        record.message = error instanceof Error ? error.message : String(error);
      },
    );
  }

  get pendingRequests(): number {
    return this.requests.filter((request) => request.settledAt === undefined).length;
  }

  close(): void {
    this.connection.close();
  }

  /** The URL of the next attempt: another node's proxy than the last one's. */
  private url(): string {
    const all = this.proxies.map((_, index) => index);
    const others = all.filter((index) => index !== this.lastNode);
    const node = this.random.pick(others.length > 0 ? others : all);
    this.lastNode = node;
    const query = new URLSearchParams({ user: this.user, tenant: 'faults', rooms: this.rooms.join(',') });
    return `ws://127.0.0.1:${this.proxies[node]?.port}/live?${query}`;
  }

  private push(event: Untimed<ClientEvent>): void {
    this.lastEventAt = Date.now();
    this.events.push({ t: this.lastEventAt, frame: this.currentFrame, ...event } as ClientEvent);
  }

  private delivered(data: MessageData, message: { room: string; offset: number; epoch: string } | undefined): void {
    let payload: { pub?: unknown; seq?: unknown; room?: unknown };
    try {
      payload = JSON.parse(String(data)) as typeof payload;
    } catch {
      this.errors.push(`not a published payload: ${String(data).slice(0, 200)}`);
      return;
    }
    if (typeof payload.pub !== 'string' || typeof payload.seq !== 'number' || typeof payload.room !== 'string') {
      this.errors.push(`not a published payload: ${String(data).slice(0, 200)}`);
      return;
    }
    this.push({
      kind: 'deliver',
      socket: this.current,
      room: message?.room ?? payload.room,
      pub: payload.pub,
      seq: payload.seq,
      ...(message && { offset: message.offset, epoch: message.epoch }),
    });
    if (message && message.room !== payload.room) {
      this.errors.push(`message of room ${payload.room} delivered as room ${message.room}`);
    }
  }

  private tappedWebSocket(): WebSocketConstructor {
    const client = this;
    const nodeOf = (url: string) => this.proxies.findIndex((proxy) => String(proxy.port) === new URL(url).port);
    class Tapped extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        const socket = ++client.sockets;
        const node = nodeOf(url);
        // Listeners added here run before the client's own `onmessage`, which it sets afterwards.
        this.addEventListener('open', () => client.push({ kind: 'open', socket, node }));
        this.addEventListener('message', (event) => {
          client.current = socket;
          client.currentFrame = ++client.frames;
          client.tap(socket, event.data);
        });
        this.addEventListener('close', (event) => client.push({ kind: 'close', socket, code: event.code }));
      }
    }
    return Tapped as unknown as WebSocketConstructor;
  }

  private tap(socket: number, data: unknown): void {
    if (typeof data !== 'string' || !data.startsWith('{"sb":"')) return;
    let frame: { sb?: unknown; room?: unknown; offset?: unknown; epoch?: unknown; reason?: unknown };
    try {
      frame = JSON.parse(data) as typeof frame;
    } catch {
      return; // The client reports what it cannot read.
    }
    if (frame.sb === 'res') {
      const res = frame as { id?: unknown; data?: unknown; error?: { code?: unknown } };
      if (typeof res.id !== 'string') return;
      const error = res.error ? String(res.error.code) : undefined;
      this.push({
        kind: 'res',
        socket,
        id: res.id,
        answer: JSON.stringify(res.error ?? res.data ?? null),
        ...(error && { error }),
      });
      return;
    }
    if (typeof frame.room !== 'string') return;
    const offset = typeof frame.offset === 'number' ? frame.offset : undefined;
    const epoch = typeof frame.epoch === 'string' ? frame.epoch : undefined;
    if (frame.sb === 'pos' && offset !== undefined && epoch !== undefined) {
      this.push({ kind: 'pos', socket, room: frame.room, offset, epoch });
    } else if (frame.sb === 'msg') {
      this.push({ kind: 'frame', socket, sb: 'msg', room: frame.room, offset, epoch });
    } else if (frame.sb === 'gap') {
      this.push({ kind: 'frame', socket, sb: 'gap', room: frame.room, reason: String(frame.reason) });
    }
  }
}
