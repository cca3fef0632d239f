/**
 * A legacy app that knows nothing of Switchboard: `new WebSocketServer({ server, path })` with an
 * HTTP handler beside it. Run as it is, and under the guard (`--import src/guard/register.ts`),
 * which turns the ws server into a hub route: the difference is the guard's cost.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { type BenchServer, ECHO_PATH, listen } from './contract.js';

export async function start(): Promise<BenchServer> {
  const server = http.createServer((_req, res) => res.end('ok'));
  const wss = new WebSocketServer({ server, path: ECHO_PATH });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await listen(server);
  return { server, path: ECHO_PATH, protocol: 'ws', connections: () => wss.clients.size };
}
