/**
 * The SharedWorker script (`switchboard/client/shared-worker`): holds one socket per connection
 * key for every tab of the origin that uses `shareAcrossTabs` with this `workerUrl`.
 */
import { Connection } from './connection.js';
import type { ConnectOptions } from './options.js';
import { settleAs } from './requests.js';
import type { Target } from './resolve-target.js';
import type { GuestMessage, HostMessage, PortableOptions } from './tab-protocol.js';

interface Host {
  connection: Connection;
  /** Most recent first: the newest tab is the likeliest to be alive when the URL is needed. */
  ports: MessagePort[];
}

const RESOLVE_TIMEOUT_MS = 5_000;
const hosts = new Map<string, Host>();
const hostOf = new Map<MessagePort, Host>();
const pending = new Map<number, (answer: { target?: Target; error?: string }) => void>();
let nextId = 1;

function broadcast(host: Host, message: HostMessage): void {
  for (const port of host.ports) port.postMessage(message);
}

/** Asks the tabs in turn; a tab that closed without saying so just lets its turn time out. */
async function resolveThroughTabs(host: Host): Promise<Target> {
  for (const port of [...host.ports]) {
    const id = nextId++;
    const answer = await new Promise<{ target?: Target; error?: string } | undefined>((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, RESOLVE_TIMEOUT_MS);
      pending.set(id, (value) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(value);
      });
      port.postMessage({ type: 'resolve', id } satisfies HostMessage);
    });
    if (answer?.target) return answer.target;
    if (answer?.error) throw new Error(answer.error);
  }
  throw new Error('no tab answered with the URL');
}

function createHost(key: string, portable: PortableOptions, first: MessagePort): Host {
  // The first port is in the list before the connection dials, since dialing asks a tab for the URL.
  const host: Host = { connection: undefined as unknown as Connection, ports: [first] };
  const options: ConnectOptions = {
    ...(portable as ConnectOptions),
    onError: (error) => broadcast(host, { type: 'error', message: error instanceof Error ? error.message : String(error) }),
  };
  host.connection = new Connection(key, () => resolveThroughTabs(host), options);
  host.connection.subscribe((data, room) => broadcast(host, room ? { type: 'message', data, room } : { type: 'message', data }));
  host.connection.onGap((gap) => broadcast(host, { type: 'gap', gap }));
  host.connection.onPresence((presence) => broadcast(host, { type: 'presence', presence }));
  host.connection.onStateChange((state) => broadcast(host, { type: 'state', state }));
  hosts.set(key, host);
  return host;
}

function leave(port: MessagePort): void {
  const host = hostOf.get(port);
  if (!host) return;
  hostOf.delete(port);
  host.ports = host.ports.filter((each) => each !== port);
  if (host.ports.length > 0) return;
  host.connection.close();
  for (const [key, each] of hosts) if (each === host) hosts.delete(key);
}

function heard(port: MessagePort, message: GuestMessage): void {
  if (message.type === 'hello') {
    const host = hosts.get(message.key) ?? createHost(message.key, message.options, port);
    host.ports = [port, ...host.ports.filter((each) => each !== port)];
    hostOf.set(port, host);
    port.postMessage({ type: 'state', state: host.connection.state } satisfies HostMessage);
    return;
  }
  if (message.type === 'resolved') {
    pending.get(message.id)?.({
      ...(message.target ? { target: message.target } : {}),
      ...(message.error ? { error: message.error } : {}),
    });
    return;
  }
  if (message.type === 'bye') {
    leave(port);
    return;
  }
  const host = hostOf.get(port);
  if (!host) return;
  try {
    if (message.type === 'send') host.connection.send(message.data);
    else if (message.type === 'reconnect') host.connection.reconnect();
    else if (message.type === 'request') {
      const { id, event, data, timeoutMs } = message;
      // The worker outlives any one tab, so the answer goes to the tab that asked.
      void settleAs(() => host.connection.relayRequest(id, event, data, timeoutMs)).then((outcome) =>
        port.postMessage({ type: 'answer', id, outcome } satisfies HostMessage),
      );
    }
  } catch (error) {
    port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies HostMessage);
  }
}

(globalThis as unknown as { onconnect: (event: MessageEvent) => void }).onconnect = (event) => {
  const port = event.ports[0];
  if (!port) return;
  port.onmessage = (message: MessageEvent<GuestMessage>) => heard(port, message.data);
  port.start();
};
