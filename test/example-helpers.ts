import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createClient } from 'graphql-ws';
import { WebSocket } from 'ws';
import { attempt, delay, nextMessage, open, startApp } from './helpers.js';
import { connectIo } from './io-helpers.js';

export interface RunningExample {
  port: number;
  /** `http://127.0.0.1:<port>` */
  http: string;
  /** `ws://127.0.0.1:<port>` */
  ws: string;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts `examples/<name>/server.mjs` in its own process on a free port of 127.0.0.1, as a user
 * would (through the built package), and resolves once it prints the address it listens on.
 */
export async function startExample(
  name: string,
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningExample> {
  const file = fileURLToPath(new URL(`../examples/${name}/server.mjs`, import.meta.url));
  const app = await startApp(file, {
    args: ['0'],
    nodeArgs: options.nodeArgs,
    env: { NEXT_TELEMETRY_DISABLED: '1', ...options.env },
    ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/,
  });
  if (app.port === undefined) throw new Error(`examples/${name} exited before listening:\n${app.output()}`);
  return {
    port: app.port,
    http: `http://127.0.0.1:${app.port}`,
    ws: `ws://127.0.0.1:${app.port}`,
    output: app.output,
    stop: app.stop,
  };
}

/** The examples' `/chat` service: a welcome, then an echo of what it is sent. */
export async function checkChat(url: string): Promise<void> {
  const ws = await open(url);
  try {
    assert.equal(await nextMessage(ws), 'welcome to /chat');
    const text = `hello ${Math.random()}`;
    ws.send(text);
    assert.equal(await nextMessage(ws), `echo: ${text}`);
  } finally {
    ws.close();
  }
}

/** The examples' Socket.IO service: `ping` is acknowledged with `pong: <text>`, over the one transport given. */
export async function checkSocketIO(url: string, transport: 'websocket' | 'polling'): Promise<void> {
  const socket = await connectIo(url, { transports: [transport] });
  try {
    assert.equal(socket.io.engine.transport.name, transport);
    const text = `over ${transport}`;
    assert.equal(await socket.timeout(5_000).emitWithAck('ping', text), `pong: ${text}`);
  } finally {
    socket.close();
  }
}

/** A handshake no service takes gets the hub's own answer: 404 with its reason, at once. */
export async function checkHubNotFound(url: string, options: { protocols?: string | string[] } = {}): Promise<void> {
  const outcome = await attempt(url, options);
  outcome.ws?.close();
  assert.equal(outcome.status, 404, `${url}: ${outcome.status} ${outcome.body} ${outcome.error?.message ?? ''}`);
  assert.match(outcome.body, /^404 Not Found: no route/);
}

/** Every result of one GraphQL operation over graphql-ws, until the server completes it. */
export async function graphQLResults(url: string, query: string): Promise<unknown[]> {
  const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
  const results: unknown[] = [];
  try {
    for await (const result of client.iterate({ query })) results.push(result);
  } finally {
    await client.dispose();
  }
  return results;
}

/**
 * The socket is still a working WebSocket: it answers a ping. A second listener answering the
 * same handshake (a 404 written after the 101) breaks the stream right after its first frames,
 * which a first message alone would not show.
 */
export async function checkAlive(ws: WebSocket): Promise<void> {
  await delay(200);
  assert.equal(ws.readyState, WebSocket.OPEN, 'the socket is still open');
  const pong = once(ws, 'pong', { signal: AbortSignal.timeout(5_000) });
  ws.ping();
  await pong;
}
