/** Socket.IO through the hub: the shared `hub.io()` server beside a `ws` route. */
import http from 'node:http';
import { loadIndex } from '../library.js';
import { type BenchServer, ECHO_PATH, listen } from './contract.js';
import { echo } from './hub.js';

export async function start(): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard } = await loadIndex();
  const hub = switchboard(server);
  const io = hub.io();
  io.on('connection', (socket) => {
    socket.on('echo', (data, ack) => (typeof ack === 'function' ? ack(data) : socket.emit('echo', data)));
  });
  hub.ws(ECHO_PATH).on('connection', echo);
  await listen(server);
  return { server, path: '/socket.io/', protocol: 'socketio', connections: () => io.engine.clientsCount };
}
