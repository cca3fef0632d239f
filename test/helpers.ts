import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { type ClientOptions, WebSocket } from 'ws';
import { SwitchboardError } from '../src/errors.js';
import { existingHub } from '../src/hub/index.js';

/** Listens on 127.0.0.1 with a free port; returns the base ws:// URL and a closer. */
export async function listen(server: http.Server): Promise<{ port: number; url: string }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { port, url: `ws://127.0.0.1:${port}` };
}

/**
 * Closes a test server for good: its hub first (upgraded sockets are not the HTTP server's to
 * close, and server.close() would wait for them), then every HTTP connection.
 */
export async function closeServer(server: http.Server): Promise<void> {
  await existingHub(server)?.close({ timeoutMs: 200 });
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface Outcome {
  /** `101` when the WebSocket opened, else the HTTP status. */
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  ws?: WebSocket;
  /** Network error when neither happened (reset, refused). */
  error?: Error;
}

const inbox = new WeakMap<WebSocket, { messages: string[]; waiters: Array<(message: string) => void> }>();

/** Buffers messages from the start: a server's first message often arrives with the 101 itself. */
function collect(ws: WebSocket): void {
  const box = { messages: [] as string[], waiters: [] as Array<(message: string) => void> };
  inbox.set(ws, box);
  ws.on('message', (data) => {
    const waiter = box.waiters.shift();
    if (waiter) waiter(String(data));
    else box.messages.push(String(data));
  });
}

/** Opens a WebSocket and reports what the server answered; the socket is left open on success. */
export function attempt(url: string, options: ClientOptions & { protocols?: string | string[] } = {}): Promise<Outcome> {
  const { protocols, ...rest } = options;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, rest);
    collect(ws);
    ws.once('open', () => resolve({ status: 101, body: '', headers: {}, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    ws.once('error', (error) => resolve({ status: 0, body: '', headers: {}, error }));
  });
}

/** Opens a WebSocket that must succeed. */
export async function open(url: string, options: ClientOptions & { protocols?: string | string[] } = {}): Promise<WebSocket> {
  const outcome = await attempt(url, options);
  if (!outcome.ws)
    throw new Error(`expected ${url} to open, got ${outcome.status} ${outcome.body} ${outcome.error?.message ?? ''}`);
  return outcome.ws;
}

/** The next message of a socket made by `attempt`/`open`, buffered or still to come. */
export function nextMessage(ws: WebSocket, timeoutMs = 5_000): Promise<string> {
  const box = inbox.get(ws);
  if (!box) throw new Error('nextMessage needs a socket opened with open() or attempt()');
  const buffered = box.messages.shift();
  if (buffered !== undefined) return Promise.resolve(buffered);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
    const onClose = (code: number) => {
      clearTimeout(timer);
      reject(new Error(`closed with ${code} before a message`));
    };
    ws.once('close', onClose);
    box.waiters.push((message) => {
      clearTimeout(timer);
      ws.removeListener('close', onClose);
      resolve(message);
    });
  });
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 1006, reason: '' });
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

/** Sends raw bytes over TCP and collects everything the server sends until it closes. */
export function rawExchange(
  port: number,
  request: string | Buffer,
  timeoutMs = 5_000,
): Promise<{ response: string; closedBy: 'server' | 'timeout' }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response, closedBy: 'timeout' });
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      response += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, closedBy: 'server' });
    });
    socket.on('connect', () => socket.write(request));
    socket.on('timeout', reject);
  });
}

/** A valid WebSocket handshake request for `path`, with extra header lines. */
export function handshakeRequest(path: string, extra: string[] = [], host = '127.0.0.1'): string {
  return [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** Runs a fixture app in its own process; resolves with its output once it prints `READY <port>` or exits. */
export function startApp(
  file: string,
  options: { args?: string[]; nodeArgs?: string[]; env?: NodeJS.ProcessEnv; ready?: RegExp } = {},
): Promise<{
  port: number | undefined;
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), file, ...(options.args ?? [])], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let settled = false;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const handle = (port: number | undefined) => {
      if (settled) return;
      settled = true;
      resolve({
        port,
        pid: child.pid as number,
        output: () => output,
        exited,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGKILL');
            await exited;
          }
        },
      });
    };
    const onData = (chunk: Buffer) => {
      output += chunk;
      const ready = (options.ready ?? /READY (\d+)/).exec(output);
      if (ready) handle(Number(ready[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(() => handle(undefined));
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `check` returns true, polling; fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** The SwitchboardError that `run` throws; fails the test if it throws nothing or something else. */
export function failure(run: () => unknown): SwitchboardError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SwitchboardError, `expected a SwitchboardError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a throw');
}

/** A redis-server of the test's own on `port`, without persistence, for tests that kill Redis and start it again. */
export class PrivateRedis {
  private server: ChildProcess;

  constructor(readonly port: number) {
    this.server = this.start();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Resolves once the server answers PING. */
  answering(timeoutMs = 10_000): Promise<void> {
    return redisAnswering(this.port, timeoutMs);
  }

  kill(): void {
    this.server.kill('SIGKILL');
  }

  restart(): void {
    this.server = this.start();
  }

  private start(): ChildProcess {
    return spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
  }
}

export { LocalRedisCluster, redisAnswering } from '../scripts/local-redis-cluster.js';

import { redisAnswering } from '../scripts/local-redis-cluster.js';
