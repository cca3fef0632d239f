/**
 * A room of `members` real `ws` clients on loopback, in this process, and `hub.publish` to it
 * timed alone: the server's work, writes into the sockets included. Shared by the sections that
 * measure what something costs a publish (history, metrics).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { loadIndex } from '../library.js';

type Switchboard = Awaited<ReturnType<typeof loadIndex>>['switchboard'];
type Hub = ReturnType<Switchboard>;
const PAYLOAD = 'x'.repeat(64);

export interface Room {
  publish(): void;
  drained(): Promise<void>;
  stop(): Promise<void>;
}

export async function room(
  switchboard: Switchboard,
  history: { size: number; ttlMs: number } | undefined,
  recover: boolean,
  members: number,
  /** Called with the hub before any client connects (collectMetrics, for the metrics section). */
  setup?: (hub: Hub) => void,
): Promise<Room> {
  const server = http.createServer();
  const hub = switchboard(server, history ? { history } : {});
  setup?.(hub);
  const wss = hub.ws('/live', {}, recover ? { recover: true } : undefined);
  wss.on('connection', (ws) => hub.join(ws, 'room'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const clients: WebSocket[] = [];
  let received = 0;
  for (let index = 0; index < members; index++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live`);
    ws.on('message', () => {
      received++;
    });
    await new Promise((resolve) => ws.once('open', resolve));
    clients.push(ws);
  }
  while (hub.realtime.rooms.in('room').size < members) await new Promise((resolve) => setImmediate(resolve));
  let sent = 0;
  return {
    publish() {
      hub.publish('room', PAYLOAD);
      sent += members;
    },
    async drained() {
      // Every frame read by the clients (the hello and positions of a recovering route come first).
      while (received < sent) await new Promise((resolve) => setImmediate(resolve));
    },
    async stop() {
      for (const ws of clients) ws.terminate();
      await hub.close({ timeoutMs: 100 });
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** ns per publish over `batches` batches of 100, the sockets drained between batches. */
export async function publishRounds(target: Room, batches: number): Promise<number> {
  let elapsed = 0n;
  await target.drained();
  for (let batch = 0; batch < batches; batch++) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < 100; index++) target.publish();
    elapsed += process.hrtime.bigint() - started;
    await target.drained();
  }
  return Number(elapsed) / (batches * 100);
}
