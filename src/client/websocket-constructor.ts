import { ClientError } from './errors.js';

/** Declared as a method so that the browser's and `ws`'s narrower event types are accepted. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API the client uses; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** `WebSocket.OPEN` in every implementation. */
export const OPEN = 1;

let fromWs: Promise<WebSocketConstructor | undefined> | undefined;

/**
 * The given constructor, else the platform's, else the `ws` package. `ws` is loaded with a
 * computed specifier so that browser bundlers neither bundle it nor fail on it, and only where
 * there is no platform WebSocket (Node 20).
 */
export async function webSocketConstructor(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const platform = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (platform) return platform;
  fromWs ??= loadWs();
  const loaded = await fromWs;
  if (loaded) return loaded;
  throw new ClientError(
    'ERR_NO_WEBSOCKET',
    'switchboard/client: this platform has no WebSocket and the `ws` package could not be loaded. ' +
      'Install it (npm install ws) or pass a constructor: connect(url, { WebSocket }).',
  );
}

async function loadWs(): Promise<WebSocketConstructor | undefined> {
  const specifier = ['w', 's'].join('');
  try {
    const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as {
      WebSocket?: WebSocketConstructor;
      default?: WebSocketConstructor;
    };
    return mod.WebSocket ?? mod.default;
  } catch {
    return undefined;
  }
}
