import type { Outgoing } from './base-connection.js';
import type { Connection } from './connection.js';
import type { Link, LinkEvents } from './link.js';
import { type OutgoingRequest, settleAs } from './requests.js';
import { INITIAL_STATE } from './state.js';
import { channelName, type GuestMessage, type HostMessage } from './tab-protocol.js';

type LockManager = {
  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<void>;
};

export function tabElectionAvailable(): boolean {
  const nav = (globalThis as { navigator?: { locks?: LockManager } }).navigator;
  return typeof BroadcastChannel === 'function' && typeof nav?.locks?.request === 'function';
}

/**
 * One tab of the origin holds the socket: whichever holds the Web Lock named after the connection.
 * The others wait in the lock's queue, so when the holding tab closes (and the browser frees its
 * lock) the next one takes over by itself. Messages and state travel over a BroadcastChannel.
 */
export class TabElection implements Link {
  private readonly channel: BroadcastChannel;
  private readonly abort = new AbortController();
  private host: Connection | undefined;
  private resign: (() => void) | undefined;
  private readonly id = Math.random().toString(36).slice(2);
  /** The tab that last said it holds the socket. */
  private holder: string | undefined;
  private closed = false;
  private readonly onPageHide = () => this.post({ type: 'bye' });

  constructor(
    key: string,
    private readonly createHost: () => Connection,
    private readonly events: LinkEvents,
  ) {
    this.channel = new BroadcastChannel(channelName(key));
    this.channel.onmessage = (event: MessageEvent<HostMessage | GuestMessage>) => this.heard(event.data);
    const locks = (navigator as unknown as { locks: LockManager }).locks;
    locks
      .request(channelName(key), { signal: this.abort.signal }, () => this.lead())
      .catch((error: unknown) => {
        if (!this.closed) events.error(error);
      });
    // A tab that is already holding answers with its state, which makes this one ready to send.
    this.post({ type: 'hello', key, options: {} });
  }

  send(data: Outgoing): void {
    if (this.host) this.host.send(data);
    else this.post({ type: 'send', data });
  }

  request(request: OutgoingRequest): void {
    const { id, event, data, timeoutMs } = request;
    if (this.host) this.relay(this.host, id, event, data, timeoutMs, false);
    else this.post({ type: 'request', id, event, data, timeoutMs });
  }

  reconnect(): void {
    if (this.host) this.host.reconnect();
    else this.post({ type: 'reconnect' });
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    if (this.host) {
      this.post({ type: 'bye' });
      this.host.close();
      this.host = undefined;
      removeEventListener('pagehide', this.onPageHide);
    }
    this.resign?.();
    this.channel.close();
  }

  private lead(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const host = this.createHost();
    this.host = host;
    host.subscribe((data, room) => {
      this.events.message(data, room);
      this.post(room ? { type: 'message', data, room } : { type: 'message', data });
    });
    host.onGap((gap) => {
      this.events.gap(gap);
      this.post({ type: 'gap', gap });
    });
    host.onPresence((presence) => {
      this.events.presence(presence);
      this.post({ type: 'presence', presence });
    });
    host.onPosition = (position) => {
      this.events.position(position);
      this.post({ type: 'position', position });
    };
    host.onStateChange((state) => {
      this.events.state(state);
      this.post({ type: 'state', state, holder: this.id });
    });
    this.events.state(host.state);
    this.post({ type: 'state', state: host.state, holder: this.id });
    this.holder = this.id;
    this.events.ready(true, true);
    // The lock goes with the tab anyway; 'bye' only tells the others sooner, so they queue instead of sending into the void.
    addEventListener('pagehide', this.onPageHide);
    return new Promise((resolve) => {
      this.resign = resolve;
    });
  }

  private heard(message: HostMessage | GuestMessage): void {
    if (this.closed) return;
    if (this.host) {
      if (message.type === 'send') this.host.send(message.data);
      else if (message.type === 'request')
        this.relay(this.host, message.id, message.event, message.data, message.timeoutMs, true);
      else if (message.type === 'reconnect') this.host.reconnect();
      else if (message.type === 'hello') this.post({ type: 'state', state: this.host.state, holder: this.id });
      return;
    }
    if (message.type === 'state') {
      const newHolder = message.holder !== this.holder;
      this.holder = message.holder;
      this.events.state(message.state);
      this.events.ready(true, newHolder);
    } else if (message.type === 'message') {
      this.events.message(message.data, message.room);
    } else if (message.type === 'gap') {
      this.events.gap(message.gap);
    } else if (message.type === 'presence') {
      this.events.presence(message.presence);
    } else if (message.type === 'position') {
      this.events.position(message.position);
    } else if (message.type === 'answer') {
      this.events.answer(message.id, message.outcome);
    } else if (message.type === 'bye') {
      this.events.ready(false);
      this.events.state({ ...INITIAL_STATE, status: 'reconnecting' });
    }
  }

  /** Runs a request on the socket this tab holds; the answer goes back to this tab, or to all of them. */
  private relay(host: Connection, id: string, event: string, data: unknown, timeoutMs: number, guest: boolean): void {
    void settleAs(() => host.relayRequest(id, event, data, timeoutMs)).then((outcome) => {
      // This tab stepped down meanwhile (its close failed the request): the tabs resend it to the next holder.
      if (this.closed) return;
      if (guest) this.post({ type: 'answer', id, outcome });
      else this.events.answer(id, outcome);
    });
  }

  private post(message: HostMessage | GuestMessage): void {
    try {
      this.channel.postMessage(message);
    } catch (error) {
      this.events.error(error);
    }
  }
}
