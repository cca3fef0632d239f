/** Alternative: Fastify with @fastify/websocket, the route declared with `{ websocket: true }`. */
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { BACKLOG, type BenchServer, ECHO_PATH, OTHER_PATH } from './contract.js';

export async function start(): Promise<BenchServer> {
  const app = Fastify({ logger: false });
  await app.register(websocket);
  await app.register(async (scope) => {
    for (const path of [ECHO_PATH, OTHER_PATH]) {
      scope.get(path, { websocket: true }, (socket) => {
        socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      });
    }
  });
  await app.listen({ host: '127.0.0.1', port: 0, backlog: BACKLOG });
  return { server: app.server, path: ECHO_PATH, protocol: 'ws', connections: () => app.websocketServer.clients.size };
}
