/**
 * The baseline: `ws` servers in noServer mode routed by hand, as the `ws` README shows under
 * "Multiple servers sharing a single HTTP/S server" (one `'upgrade'` listener, `new URL`, if/else).
 */
import http from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { type BenchServer, ECHO_PATH, listen, OTHER_PATH } from './contract.js';

export async function start(): Promise<BenchServer> {
  const server = http.createServer();
  const wss1 = new WebSocketServer({ noServer: true });
  const wss2 = new WebSocketServer({ noServer: true });
  wss1.on('connection', echo);
  wss2.on('connection', echo);
  server.on('upgrade', (request, socket, head) => {
    socket.on('error', onSocketError);
    const { pathname } = new URL(request.url ?? '/', 'wss://base.url');
    if (pathname === ECHO_PATH) {
      wss1.handleUpgrade(request, socket, head, (ws) => wss1.emit('connection', ws, request));
    } else if (pathname === OTHER_PATH) {
      wss2.handleUpgrade(request, socket, head, (ws) => wss2.emit('connection', ws, request));
    } else {
      socket.destroy();
    }
  });
  await listen(server);
  return { server, path: ECHO_PATH, protocol: 'ws', connections: () => wss1.clients.size };
}

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function onSocketError(): void {
  // As in the README: a reset during the handshake must not crash the process.
}
