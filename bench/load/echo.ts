/**
 * Echo load: `connections` open clients, each with one message in flight: send, wait for the echo,
 * send again. Round trips per second and their latency; the server's work per message is the
 * WebSocket framing in both directions and whatever sits between the socket and the app.
 */
import { WebSocket } from 'ws';
import { LatencyRecorder } from '../stats.js';
import { countError, MeasureWindow, until, type WindowOptions } from './window.js';

export interface EchoJob extends WindowOptions {
  url: string;
  connections: number;
  payloadBytes: number;
}

export interface EchoResult {
  roundTrips: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: Record<string, number>;
}

export async function runEcho(job: EchoJob): Promise<EchoResult> {
  const window = new MeasureWindow();
  const latency = new LatencyRecorder();
  const errors: Record<string, number> = {};
  const payload = 'x'.repeat(job.payloadBytes);
  const clients: WebSocket[] = [];

  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      const ws = new WebSocket(job.url, { perMessageDeflate: false });
      ws.on('error', (error) => countError(errors, error));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('close', () => reject(new Error('echo client closed before it opened')));
      });
      clients.push(ws);
    }),
  );

  for (const ws of clients) {
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      ws.send(payload);
    };
    ws.on('message', () => {
      if (window.measuring) latency.record(performance.now() - sentAt);
      if (!window.stopped) send();
    });
    send();
  }
  await window.run(job);
  for (const ws of clients) ws.terminate();
  await until(() => clients.every((ws) => ws.readyState === WebSocket.CLOSED), 5_000);
  const { p50, p99 } = latency.percentiles();
  return { roundTrips: latency.count, perSecond: latency.count / window.seconds, p50, p99, errors };
}
