import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SwitchboardError } from '../errors.js';
import { ListenerOffer, NOT_TAKEN } from './listener-offer.js';
import { type ShadowedEvent, ShadowWatch } from './shadowing.js';

/** Marks the hub's own 'upgrade' listener, which the guard must let through to the server. */
export const HUB_LISTENER = Symbol.for('switchboard.hubListener');

/**
 * A Node `'upgrade'` listener; `.listener` is set on the wrappers `once` makes. It may return a
 * promise (an async function does): adopted, it is then taken to be done with the socket once the
 * promise settles.
 */
export type UpgradeListener = ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) & { listener?: unknown };

export interface AdoptedEvent {
  path: string;
  /** answered: a listener took it; declined: none did (404); failed: one threw (500); timeout: none answered in time. */
  result: 'answered' | 'declined' | 'failed' | 'timeout';
}

interface AdoptedListener {
  listener: UpgradeListener;
  owner: string | undefined;
}

/** What adoption needs of its hub: the server, its answers, its events and its timeout. */
export interface AdoptionHost {
  readonly server: Server;
  readonly handshakeTimeoutMs: number;
  reportError(error: unknown, fields: Record<string, unknown>): void;
  /** The answer to a handshake nobody took (the legacy library's own, or 404). */
  answerUnmatched(req: IncomingMessage, socket: Duplex, head: Buffer, path: string, reason: string): void;
  reject(socket: Duplex, status: number, reason: string, path: string): void;
  /** Gives the server back when neither routes nor adopted listeners are left (a guard's hub). */
  releaseIfUnused(): boolean;
  emit(event: 'shadowed', shadowed: ShadowedEvent): boolean;
  emit(event: 'adopted', adopted: AdoptedEvent): boolean;
}

/**
 * The foreign `'upgrade'` listeners a hub took over (a library's, or the app's own), in order:
 * each is offered the handshakes no route takes, after the ones adopted before it, and only while
 * none of them has answered the socket.
 */
export class Adoption {
  private readonly adopted: AdoptedListener[] = [];
  private readonly shadowWatch = new ShadowWatch<AdoptedListener>();

  constructor(private readonly hub: AdoptionHost) {}

  get size(): number {
    return this.adopted.length;
  }

  /**
   * Adopts `listener`. One already on the server is taken off it first (it would be handed every
   * socket the hub routes as well); the hub's own listener is left where it is, so that
   * `server.listeners('upgrade').forEach((listener) => hub.adopt(listener))` adopts the others.
   */
  add(listener: UpgradeListener, owner: string | undefined, once: boolean): void {
    if (typeof listener !== 'function') {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `hub.adopt(listener): expected an 'upgrade' listener (req, socket, head) => void, got ${listener === null ? 'null' : typeof listener}.`,
      );
    }
    if ((listener as unknown as Record<symbol, unknown>)[HUB_LISTENER]) return;
    if (this.adopted.some((entry) => entry.listener === listener)) return;
    let offeredOnce = once;
    const server = this.hub.server;
    const onServer = (server.rawListeners('upgrade') as UpgradeListener[]).find(
      (entry) => entry === listener || entry.listener === listener,
    );
    if (onServer) {
      server.removeListener('upgrade', listener);
      // Added with once(): it is offered one handshake, as the server would have given it one.
      if (onServer !== listener) offeredOnce = true;
    }
    this.adopted.push({ listener: offeredOnce ? this.offeredOnce(listener) : listener, owner });
  }

  /** Gives an adopted listener up (its code removed it from the server). */
  remove(listener: UpgradeListener): boolean {
    const index = this.adopted.findIndex((entry) => entry.listener === listener || entry.listener.listener === listener);
    if (index === -1) return false;
    this.adopted.splice(index, 1);
    return true;
  }

  /** The adopted listeners, with where their code added them. */
  owners(): { owner: string | undefined }[] {
    return this.adopted.map(({ owner }) => ({ owner }));
  }

  /**
   * Offers an unrouted handshake to the adopted listeners in order, each once the one before it
   * has left the socket alone (see `ListenerOffer` for how that is told), so that no listener is
   * handed a socket another already took. When all of them have declined it, the client gets the
   * unmatched answer at once; while one may still answer (it took the socket, is still working on
   * its promise, or started asynchronous work it returned nothing for), the handshake timeout is
   * the last resort.
   */
  offer(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): void {
    const hub = this.hub;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    // A copy: a listener adopted with once() leaves the list when it is called.
    const listeners = [...this.adopted];
    const offer = new ListenerOffer(socket, listeners, {
      call: ({ listener }) => listener.call(hub.server, req, socket, head),
      error: (error, { owner }) => hub.reportError(error, { during: 'adopted upgrade listener', owner, path }),
      verdict: (verdict) => {
        if (verdict === 'pending') return;
        settled = true;
        clearTimeout(timer);
        if (verdict === 'answered' && this.adopted.length > 1) {
          const shadowed = this.shadowWatch.answered(listeners, offer.offered - 1, path, this.adopted);
          if (shadowed) hub.emit('shadowed', shadowed);
        }
        if (verdict === 'declined') hub.answerUnmatched(req, socket, head, path, NOT_TAKEN);
        else if (verdict === 'failed') hub.reject(socket, 500, 'upgrade listener failed', path);
        hub.emit('adopted', { path, result: verdict });
      },
    });
    offer.start();
    if (settled) return;
    timer = setTimeout(() => {
      offer.stop();
      if (offer.isAnswered) {
        hub.emit('adopted', { path, result: 'answered' });
        return;
      }
      if (offer.working) hub.reject(socket, 408, 'handshake was not answered in time', path);
      else hub.answerUnmatched(req, socket, head, path, NOT_TAKEN);
      hub.emit('adopted', { path, result: offer.working ? 'timeout' : 'declined' });
    }, hub.handshakeTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private offeredOnce(listener: UpgradeListener): UpgradeListener {
    const adoption = this;
    const once = function offeredOnce(this: unknown, ...args: Parameters<UpgradeListener>) {
      adoption.remove(once);
      // As the server would after its once() listener ran: no 'upgrade' listener left, if none is.
      adoption.hub.releaseIfUnused();
      // What it returns (a promise) is how the hub tells when it is done with the socket.
      return listener.apply(this, args);
    } as UpgradeListener;
    once.listener = listener;
    return once;
  }
}
