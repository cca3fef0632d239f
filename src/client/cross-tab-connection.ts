import { type Outgoing, SharedConnection } from './base-connection.js';
import { Connection } from './connection.js';
import { ClientError } from './errors.js';
import type { Link, LinkEvents } from './link.js';
import type { ConnectOptions, ShareAcrossTabsOptions } from './options.js';
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

  reconnect(): void {
    this.link?.reconnect();
  }

  protected shutdown(): void {
    this.link?.close();
    this.link = undefined;
    this.store.set({ status: 'closed', retryInMs: undefined });
  }

  private events(): LinkEvents {
    return {
      state: (state) => {
        if (!this.finished) this.store.set(state);
      },
      message: (data) => {
        if (!this.finished) this.subscribers.dispatch(data);
      },
      ready: (ready) => {
        this.ready = ready;
        if (ready && this.link) for (const data of this.queue.drain()) this.link.send(data);
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
    return new TabElection(this.key, () => new Connection(this.key, this.target, own), this.events());
  }
}
