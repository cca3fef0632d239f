/**
 * Handshake load: `concurrency` clients each connect, wait for the `101`, drop the connection and
 * connect again, for a fixed time. Latency is from connect to the complete `101` response: TCP
 * connect, request, the server's routing and answer.
 *
 * The default client writes the RFC 6455 upgrade request on a plain socket and checks the status
 * and `Sec-WebSocket-Accept` of the answer. A `ws` client (`client: 'ws'`) spends about as much CPU
 * per handshake as the server does, so on a 2-core machine one load core could not keep one server
 * core busy and every server would measure the same: the load's speed, not the server's.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { WebSocket } from 'ws';
import { LatencyRecorder } from '../stats.js';
import { countError, MeasureWindow, until, type WindowOptions } from './window.js';

export interface HandshakeJob extends WindowOptions {
  url: string;
  concurrency: number;
  client?: 'raw' | 'ws';
}

export interface HandshakeResult {
  handshakes: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: Record<string, number>;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Keys and their expected accept values, computed once so the client's per-handshake work stays small. */
const KEYS = Array.from({ length: 64 }, () => {
  const key = randomBytes(16).toString('base64');
  return {
    key,
    accept: `Sec-WebSocket-Accept: ${createHash('sha1')
      .update(key + GUID)
      .digest('base64')}`,
  };
});

/**
 * Client source addresses, taken in turn: a client that closes first leaves its side in TIME_WAIT
 * for a minute, and at thousands of handshakes a second one address runs out of ports within a
 * run; the kernel's search for a free one then adds to the time of every connect, unevenly. Each
 * address of 127/8 is its own set of ports (the held connections use 127.0.0.x, these 127.1.x.y).
 */
const SOURCE_ADDRESSES = Array.from({ length: 256 }, (_, index) => `127.1.${index >> 6}.${(index & 63) + 1}`);

export async function runHandshakes(job: HandshakeJob): Promise<HandshakeResult> {
  const window = new MeasureWindow();
  const latency = new LatencyRecorder();
  const errors: Record<string, number> = {};
  const url = new URL(job.url);
  const port = Number(url.port);
  const requests = KEYS.map(({ key, accept }) => ({
    request: Buffer.from(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      'latin1',
    ),
    accept,
  }));
  let inFlight = 0;
  let sequence = 0;

  const done = (startedAt: number, error: unknown): void => {
    if (window.measuring) {
      if (error === undefined) latency.record(performance.now() - startedAt);
      else countError(errors, error);
    }
    inFlight--;
    connect();
  };

  const connectRaw = (): void => {
    const { request, accept } = requests[sequence++ % requests.length] as (typeof requests)[number];
    const startedAt = performance.now();
    const localAddress = url.hostname === '127.0.0.1' ? SOURCE_ADDRESSES[sequence % SOURCE_ADDRESSES.length] : undefined;
    const socket = net.connect({ host: url.hostname, port, noDelay: true, localAddress });
    let response = '';
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      socket.destroy();
      done(startedAt, error);
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: string) => {
      response += chunk;
      const end = response.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = response.slice(0, end);
      if (!head.startsWith('HTTP/1.1 101 ')) finish(new Error(`answered ${head.slice(9, 12)}`));
      else if (!head.includes(accept)) finish(new Error('wrong Sec-WebSocket-Accept'));
      else finish();
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('closed before 101')));
  };

  const connectWs = (): void => {
    const startedAt = performance.now();
    let failure: unknown;
    // No compression offered: none of the servers would use it.
    const ws = new WebSocket(job.url, { perMessageDeflate: false });
    ws.on('open', () => {
      if (window.measuring) latency.record(performance.now() - startedAt);
      ws.terminate();
    });
    ws.on('error', (error) => {
      failure = error;
    });
    ws.on('close', () => {
      if (failure !== undefined && window.measuring) countError(errors, failure);
      inFlight--;
      connect();
    });
  };

  const connect = (): void => {
    if (window.stopped) return;
    inFlight++;
    if (job.client === 'ws') connectWs();
    else connectRaw();
  };

  for (let index = 0; index < job.concurrency; index++) connect();
  await window.run(job);
  await until(() => inFlight === 0, 5_000);
  const { p50, p99 } = latency.percentiles();
  return { handshakes: latency.count, perSecond: latency.count / window.seconds, p50, p99, errors };
}
