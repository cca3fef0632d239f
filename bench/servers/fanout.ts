/**
 * Fan-out servers: every connection joins one room, and the parent asks for one message to reach
 * all of them. The hub's frame-once broadcast (`hub.publish`) against the loop users write by hand
 * (`wss.clients.forEach(c => c.send(msg))`) and against Socket.IO's `io.to(room).emit`.
 */
import http from 'node:http';
import { Server as SocketIOServer } from 'socket.io';
import * as wsModule from 'ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RouteOptions, Switchboard } from '../../src/index.js';
import { loadIndex, loadRedis } from '../library.js';
import { type BenchServer, listen } from './contract.js';
import { FANOUT_EVENT, FANOUT_PATH } from './fanout-protocol.js';

const ROOM = 'everyone';

export async function startHub(): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard } = await loadIndex();
  return serveFanout(server, switchboard(server));
}

/** Every connection of the hub's fan-out route joins the room that `broadcast` publishes to. */
export async function serveFanout(server: http.Server, hub: Switchboard, routeOptions?: RouteOptions): Promise<BenchServer> {
  const route = hub.ws(FANOUT_PATH, {}, routeOptions);
  route.on('connection', (ws) => hub.join(ws, ROOM));
  await listen(server);
  return {
    server,
    path: FANOUT_PATH,
    protocol: 'ws',
    connections: () => route.clients.size,
    broadcast: (message) => hub.publish(ROOM, message),
  };
}

/** A plain `ws` server on the fan-out path, broadcasting to all its clients the way `send` does. */
async function serveBare(send: (clients: Set<WebSocket>, message: string) => void): Promise<BenchServer> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: FANOUT_PATH });
  await listen(server);
  return {
    server,
    path: FANOUT_PATH,
    protocol: 'ws',
    connections: () => wss.clients.size,
    broadcast: (message) => send(wss.clients, message),
  };
}

export function startBare(): Promise<BenchServer> {
  return serveBare((clients, message) => {
    for (const client of clients) client.send(message);
  });
}

/**
 * The floor: the frame built once by hand and written to each socket with one `socket.write`,
 * nothing checked (no state, no buffered bytes, no queue): what any broadcast on Node's streams
 * costs at least.
 */
export function startFloor(): Promise<BenchServer> {
  const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
  return serveBare((clients, message) => {
    const payload = Buffer.from(message);
    const frame = Buffer.concat(Sender.frame(payload, { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: true }));
    for (const client of clients) (client as unknown as { _socket: import('node:net').Socket })._socket.write(frame);
  });
}

export async function startSocketIO(): Promise<BenchServer> {
  const server = http.createServer();
  const io = new SocketIOServer(server);
  io.on('connection', (socket) => socket.join(ROOM));
  await listen(server);
  return {
    server,
    path: '/socket.io/',
    protocol: 'socketio',
    connections: () => io.engine.clientsCount,
    broadcast: (message) => io.to(ROOM).emit(FANOUT_EVENT, message),
  };
}

/**
 * One node of a two-node hub sharing a Redis broker: the parent publishes on one node and the
 * load's clients are connected to the other. The Redis address and a prefix of this run's own come
 * from the environment the parent sets.
 */
export async function startHubRedis(): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard } = await loadIndex();
  const { redisBroker } = await loadRedis();
  const broker = redisBroker({
    url: process.env.SWITCHBOARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix: process.env.SWITCHBOARD_BENCH_REDIS_PREFIX ?? `switchboard-bench-${process.pid}`,
  });
  const hub = switchboard(server, { broker });
  await hub.ready();
  return serveFanout(server, hub);
}
