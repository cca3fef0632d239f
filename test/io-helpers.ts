import { type Socket as ClientSocket, io as ioClient, type ManagerOptions, type SocketOptions } from 'socket.io-client';

export type { ClientSocket };

type Inbox = { events: Array<[string, unknown]>; waiters: Array<{ event: string; resolve: (value: unknown) => void }> };
const inboxes = new WeakMap<ClientSocket, Inbox>();

/**
 * Records every event from the moment the socket exists: a server that emits on 'connection' is
 * often heard in the same batch as the connect itself, before a test could attach a listener.
 */
export function record(socket: ClientSocket): ClientSocket {
  if (inboxes.has(socket)) return socket;
  const inbox: Inbox = { events: [], waiters: [] };
  inboxes.set(socket, inbox);
  socket.onAny((event: string, value: unknown) => {
    const index = inbox.waiters.findIndex((waiter) => waiter.event === event);
    if (index === -1) inbox.events.push([event, value]);
    else inbox.waiters.splice(index, 1)[0]?.resolve(value);
  });
  return socket;
}

/** Connects a real socket.io-client; resolves once connected, rejects with the connect_error. */
export function connectIo(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<ClientSocket> {
  return new Promise((resolve, reject) => {
    const socket = record(ioClient(url, { reconnection: false, timeout: 4_000, forceNew: true, ...options }));
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/**
 * The next `event` on a client socket, with its first argument; buffered events first for sockets
 * made by `connectIo`/`record`. Reserved events (connect, disconnect) are listened for directly.
 */
export function nextEvent<T = unknown>(socket: ClientSocket, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in time`)), timeoutMs);
    const done = (value: unknown) => {
      clearTimeout(timer);
      resolve(value as T);
    };
    const inbox = inboxes.get(socket);
    const reserved = ['connect', 'connect_error', 'disconnect'].includes(event);
    if (!inbox || reserved) {
      socket.once(event as 'connect', done as () => void);
      return;
    }
    const index = inbox.events.findIndex(([name]) => name === event);
    if (index !== -1) done(inbox.events.splice(index, 1)[0]?.[1]);
    else inbox.waiters.push({ event, resolve: done });
  });
}

/** Resolves with the transport once the client has upgraded from polling to websocket. */
export function upgraded(socket: ClientSocket): Promise<string> {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return Promise.resolve('websocket');
  return new Promise((resolve) => engine.once('upgrade', (transport: { name: string }) => resolve(transport.name)));
}
