import type { Outgoing } from './base-connection.js';
import type { Link, LinkEvents } from './link.js';
import type { OutgoingRequest } from './requests.js';
import type { Target } from './resolve-target.js';
import type { GuestMessage, HostMessage, PortableOptions } from './tab-protocol.js';

/**
 * A worker that has loaded answers a tab's hello at once. One silent this long is taken as not
 * loading: the browser does not always report a script that failed to a tab that connected late.
 */
const WORKER_SILENCE_MS = 5_000;

export function sharedWorkerAvailable(): boolean {
  return typeof SharedWorker === 'function';
}

/**
 * The socket lives in a SharedWorker that every tab of the origin talks to, so no tab holds it and
 * closing any of them changes nothing for the others. The worker asks a tab for the URL before
 * each attempt, because URL and token functions belong to the page.
 */
export class WorkerLink implements Link {
  private readonly port: MessagePort;
  private heard = false;
  private closed = false;
  private failed = false;
  private readonly silence: ReturnType<typeof setTimeout>;
  private readonly onPageHide = () => this.post({ type: 'bye' });

  constructor(
    key: string,
    workerUrl: string | URL,
    options: PortableOptions,
    private readonly resolve: () => Promise<Target>,
    private readonly events: LinkEvents,
  ) {
    const worker = new SharedWorker(workerUrl, { type: 'module', name: 'switchboard' });
    const fail = (reason: unknown) => {
      if (this.heard || this.closed || this.failed) return;
      this.failed = true;
      clearTimeout(this.silence);
      events.failed(reason);
    };
    worker.onerror = (event) => fail(event);
    this.silence = setTimeout(
      () =>
        fail(
          new Error(`switchboard/client: the SharedWorker at ${String(workerUrl)} said nothing in ${WORKER_SILENCE_MS / 1000} s`),
        ),
      WORKER_SILENCE_MS,
    );
    this.port = worker.port;
    this.port.onmessage = (event: MessageEvent<HostMessage>) => this.hear(event.data);
    this.port.start();
    this.post({ type: 'hello', key, options });
    addEventListener('pagehide', this.onPageHide);
    // A port queues what is posted before the worker runs, so sends can go at once, in order.
    events.ready(true);
  }

  send(data: Outgoing): void {
    this.post({ type: 'send', data });
  }

  request({ id, event, data, timeoutMs }: OutgoingRequest): void {
    this.post({ type: 'request', id, event, data, timeoutMs });
  }

  reconnect(): void {
    this.post({ type: 'reconnect' });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.silence);
    this.post({ type: 'bye' });
    removeEventListener('pagehide', this.onPageHide);
    this.port.close();
  }

  private hear(message: HostMessage): void {
    if (this.closed) return;
    this.heard = true;
    clearTimeout(this.silence);
    if (message.type === 'state') this.events.state(message.state);
    else if (message.type === 'message') this.events.message(message.data, message.room);
    else if (message.type === 'gap') this.events.gap(message.gap);
    else if (message.type === 'presence') this.events.presence(message.presence);
    else if (message.type === 'answer') this.events.answer(message.id, message.outcome);
    else if (message.type === 'error') this.events.error(new Error(message.message));
    else if (message.type === 'resolve') {
      this.resolve().then(
        (target) => this.post({ type: 'resolved', id: message.id, target }),
        (error: unknown) => this.post({ type: 'resolved', id: message.id, error: String(error) }),
      );
    }
  }

  private post(message: GuestMessage): void {
    if (!this.closed || message.type === 'bye') this.port.postMessage(message);
  }
}
