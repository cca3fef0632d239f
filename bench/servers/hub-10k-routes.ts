/**
 * The subject with 10,000 more exact routes registered beside the two of the plain hub: the same
 * handshake, end to end, shows whether routing cost grows with the size of the table.
 */
import http from 'node:http';
import { loadIndex } from '../library.js';
import { type BenchServer, ECHO_PATH, listen, OTHER_PATH } from './contract.js';
import { echo } from './hub.js';

export const EXTRA_ROUTES = 10_000;

export async function start(): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard } = await loadIndex();
  const hub = switchboard(server);
  for (let index = 0; index < EXTRA_ROUTES; index++)
    hub.handle(`/service-${index}/ws`, (_req, socket) => {
      socket.destroy();
    });
  const chat = hub.ws(ECHO_PATH);
  chat.on('connection', echo);
  hub.ws(OTHER_PATH).on('connection', echo);
  await listen(server);
  return { server, path: ECHO_PATH, protocol: 'ws', connections: () => chat.clients.size };
}
