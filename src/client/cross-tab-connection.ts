import { type Outgoing, SharedConnection } from './base-connection.js';
import { Connection } from './connection.js';
import { ClientError } from './errors.js';
import type { Link, LinkEvents } from './link.js';
import type { ConnectOptions, ShareAcrossTabsOptions } from './options.js';
import { Positions } from './positions.js';
import { type RequestOptions, Requests, validTimeout } from './requests.js';
import type { Target } from './resolve-target.js';
import { SendQueue } from './send-queue.js';
import { TabElection, tabElectionAvailable } from './tab-election.js';
import { portableOptions } from './tab-protocol.js';
import { sharedWorkerAvailable, WorkerLink } from './worker-link.js';

/** Whether this platform can share a connection between tabs at all (a browser page). */
export function canShareAcrossTabs(): boolean {
  return sharedWorkerAvailable() || tabElectionAvailable();
}

/**
 * A tab's view of a connection held elsewhere: by a SharedWorker, or by whichever tab won the
 * election (possibly this one). Same interface as a connection of its own.
 */
export class CrossTabConnection extends SharedConnection {
  private link: Link | undefined;
  private ready = false;
  private readonly queue: SendQueue<Outgoing>;
  /** This tab's requests; they go to the holder, and again to the next one if it goes away first. */
  private readonly requests = new Requests((request) => {
    if (!this.ready || !this.link) return false;
    this.link.request(request);
    return true;
  });
  /** The holder's room positions as it relays them, so that this tab resumes from them if elected next. */
  private readonly positions = new Positions();
  /** How this tab's connection is held: `'shared-worker'` or `'broadcast-channel'`. */
  via: 'shared-worker' | 'broadcast-channel';

  constructor(
    key: string,
    private readonly target: () => Promise<Target>,
    private readonly options: ConnectOptions,
  ) {
    super(key, options);
    this.queue = new SendQueue(options.queue);
    const sharing: ShareAcrossTabsOptions = typeof options.shareAcrossTabs === 'object' ? options.shareAcrossTabs : {};
    const via = sharing.via ?? 'auto';
    const worker = via !== 'broadcast-channel' && sharing.workerUrl !== undefined && sharedWorkerAvailable();
    if (via === 'shared-worker' && !worker) {
      throw new ClientError(
        'ERR_CLIENT_OPTIONS',
        sharing.workerUrl === undefined
          ? "switchboard/client: shareAcrossTabs: { via: 'shared-worker' } needs the `workerUrl` of switchboard/client/shared-worker"
          : 'switchboard/client: this browser has no SharedWorker',
      );
    }
    this.via = worker ? 'shared-worker' : 'broadcast-channel';
    this.link = worker ? this.workerLink(sharing.workerUrl as string | URL) : this.electionLink();
  }

  send(data: Outgoing): boolean {
    if (this.finished) {
      throw new ClientError('ERR_CONNECTION_CLOSED', `switchboard/client: send() on the closed connection ${this.key}`);
    }
    if (this.ready && this.link) {
      this.link.send(data);
      return true;
    }
    return this.queue.push(data);
  }

  request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T> {
    try {
      if (this.finished) {
        throw new ClientError('ERR_CONNECTION_CLOSED', `switchboard/client: request() on the closed connection ${this.key}`);
      }
      return this.requests.start(this.requests.newId(), event, data, validTimeout(options)) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  reconnect(): void {
    this.link?.reconnect();
  }

  protected shutdown(): void {
    this.requests.failAll(
      'ERR_CONNECTION_CLOSED',
      `switchboard/client: the connection ${this.key} was closed before the answer came`,
    );
    this.link?.close();
    this.link = undefined;
    this.store.set({ status: 'closed', retryInMs: undefined });
  }

  private events(): LinkEvents {
    return {
      state: (state) => {
        if (!this.finished) this.store.set(state);
      },
      message: (data, room) => {
        if (this.finished) return;
        if (room) this.positions.merge(room);
        this.subscribers.dispatch(data, room);
      },
      gap: (gap) => {
        if (this.finished) return;
        // Like the holder's own: the next tab to hold the socket does not resume the room from before the hole.
        this.positions.gapped(gap.room);
        this.gaps.emit(gap);
      },
      presence: (presence) => {
        if (!this.finished) this.presences.emit(presence);
      },
      position: (position) => this.positions.merge(position),
      answer: (id, outcome) => this.requests.settle(id, outcome),
      ready: (ready, newHolder = false) => {
        const was = this.ready;
        this.ready = ready;
        if (!ready || !this.link) return;
        for (const data of this.queue.drain()) this.link.send(data);
        // A new holder (or the first): requests the last one did not answer go to it, with their ids.
        if (!was || newHolder) this.requests.flush();
      },
      failed: (error) => {
        // The worker script did not load (not served, wrong URL): the tabs elect one of themselves instead.
        this.report(error);
        if (this.finished || this.via !== 'shared-worker') return;
        this.link?.close();
        this.ready = false;
        this.via = 'broadcast-channel';
        this.link = this.electionLink();
      },
      error: (error) => this.report(error),
    };
  }

  private workerLink(url: string | URL): Link {
    return new WorkerLink(this.key, url, portableOptions(this.options), this.target, this.events());
  }

  private electionLink(): Link {
    const { shareAcrossTabs: _, ...own } = this.options;
    return new TabElection(
      this.key,
      () => {
        const host = new Connection(this.key, this.target, own);
        host.seedPositions(this.positions.entries());
        return host;
      },
      this.events(),
    );
  }
}
