/**
 * Alternative: crossws on Node (the WebSocket layer of h3/Nitro), mounted on the server's
 * `'upgrade'` event and routed by path by hand, as its Node adapter documents.
 */
import http from 'node:http';
import crossws from 'crossws/adapters/node';
import { type BenchServer, ECHO_PATH, listen, OTHER_PATH } from './contract.js';

export async function start(): Promise<BenchServer> {
  let open = 0;
  const adapter = crossws({
    hooks: {
      open() {
        open++;
      },
      close() {
        open--;
      },
      message(peer, message) {
        peer.send(message.rawData);
      },
    },
  });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === ECHO_PATH || pathname === OTHER_PATH) adapter.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  await listen(server);
  return { server, path: ECHO_PATH, protocol: 'ws', connections: () => open };
}
