/** Socket.IO as its documentation shows it, attached to the HTTP server by itself: the baseline of the hub's io(). */
import http from 'node:http';
import { Server } from 'socket.io';
import { type BenchServer, listen } from './contract.js';

export async function start(): Promise<BenchServer> {
  const server = http.createServer();
  const io = new Server(server);
  io.on('connection', (socket) => {
    socket.on('echo', (data, ack) => (typeof ack === 'function' ? ack(data) : socket.emit('echo', data)));
  });
  await listen(server);
  return { server, path: '/socket.io/', protocol: 'socketio', connections: () => io.engine.clientsCount };
}
