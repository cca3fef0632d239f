/**
 * `switchboard/react`: hooks over `switchboard/client`. React is an optional peer dependency.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import {
  type ConnectionState,
  type ConnectOptions,
  connect,
  type EventHandler,
  type MessageHandler,
  type Resolvable,
  type SharedConnection,
  type UrlInput,
} from '../client/index.js';

/** What `useConnectionState` reports before the connection exists (the first render). */
export const PENDING_STATE: ConnectionState = {
  status: 'connecting',
  attempt: 0,
  lastCloseCode: undefined,
  lastCloseReason: undefined,
  retryInMs: undefined,
};

/**
 * The shared connection for `url`, held while the component is mounted. `undefined` on the first
 * render: connecting is a side effect, so it happens in an effect. Under StrictMode the effect runs,
 * cleans up and runs again at once; `release()` closes only after the current task, so the second
 * run finds the same connection and one socket is opened, not two.
 *
 * Options are read when the connection is made; a different `url` (or `options.key`) makes a new one.
 */
export function useConnection(url: Resolvable<UrlInput>, options?: ConnectOptions): SharedConnection | undefined {
  const [connection, setConnection] = useState<SharedConnection | undefined>(undefined);
  const latest = useRef({ url, options });
  latest.current = { url, options };
  const identity = options?.key ?? (typeof url === 'function' ? undefined : String(url));
  useEffect(() => {
    void identity;
    const held = connect(latest.current.url, latest.current.options);
    setConnection(held);
    return () => held.release();
  }, [identity]);
  return connection;
}

/**
 * Calls `handler` with the `data` of every `{ "event": event, "data": … }` message. The newest
 * `handler` is called without resubscribing, so it can be an inline function.
 */
export function useEvent<T = unknown>(connection: SharedConnection | undefined, event: string, handler: EventHandler<T>): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (!connection) return undefined;
    return connection.on<T>(event, (data, message) => latest.current(data, message));
  }, [connection, event]);
}

/** Calls `handler` with every message, text or binary. */
export function useMessages(connection: SharedConnection | undefined, handler: MessageHandler): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (!connection) return undefined;
    return connection.subscribe((data, message) => latest.current(data, message));
  }, [connection]);
}

const noSubscription = () => () => {};
const pending = () => PENDING_STATE;

/** The connection's state; re-renders on every change. */
export function useConnectionState(connection: SharedConnection | undefined): ConnectionState {
  return useSyncExternalStore(
    connection ? connection.onStateChange : noSubscription,
    connection ? connection.getState : pending,
    connection ? connection.getState : pending,
  );
}
