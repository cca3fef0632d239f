/** The subject: a Switchboard hub with two `ws` routes; the load talks to one of them. */
import http from 'node:http';
import type { WebSocket } from 'ws';
import type { Switchboard } from '../../src/index.js';
import { loadIndex } from '../library.js';
import { type BenchServer, ECHO_PATH, listen, OTHER_PATH } from './contract.js';

export async function start(setup?: (hub: Switchboard) => void): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard } = await loadIndex();
  const hub = switchboard(server);
  setup?.(hub);
  const chat = hub.ws(ECHO_PATH);
  chat.on('connection', echo);
  hub.ws(OTHER_PATH).on('connection', echo);
  await listen(server);
  return { server, path: ECHO_PATH, protocol: 'ws', connections: () => chat.clients.size };
}

export function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/**
 * The same route with every connection a user of its own (so in a user room of its own), with
 * presence (the default) or without: what an identity costs per connection, and presence's share.
 */
export async function startUsers(presence: boolean): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard } = await loadIndex();
  const hub = switchboard(server, { presence });
  let next = 0;
  const chat = hub.ws(ECHO_PATH, {}, { authenticate: () => ({ userId: `user-${next++}` }) });
  chat.on('connection', echo);
  await listen(server);
  return { server, path: ECHO_PATH, protocol: 'ws', connections: () => chat.clients.size };
}
