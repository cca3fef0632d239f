import http from 'node:http';
import type { WebSocket } from 'ws';
import { switchboard as createHub, type SwitchboardOptions, type switchboard } from '../src/index.js';
import { closeServer, eventually, listen, open } from './helpers.js';

/** Identity from `?user=&tenant=`, as the rooms tests and their cluster nodes give it. */
export function identityFromQuery(req: http.IncomingMessage) {
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  return { userId: query.get('user') ?? 'anon', tenantId: query.get('tenant') ?? 'none' };
}

/**
 * The routes rooms are tested on: a ws route `/live` whose clients join a room by sending
 * `join:<room>` and leave with `leave:<room>` (each answered `ok <frame>`, a join once the room's
 * messages from every node reach the connection), and the shared
 * Socket.IO server; both identify their clients from the query.
 */
export function mountLive(hub: ReturnType<typeof switchboard>): void {
  hub.ws('/live', {}, { authenticate: identityFromQuery }).on('connection', (ws) => {
    ws.on('message', (data) => {
      const [command, room] = String(data).split(':');
      if (command === 'join') {
        hub.join(ws, room as string).then(() => ws.send(`ok ${data}`));
        return;
      }
      if (command === 'leave') hub.leave(ws, room as string);
      ws.send(`ok ${data}`);
    });
  });
  hub.io(undefined, { authenticate: identityFromQuery });
}

export interface LiveNode {
  server: http.Server;
  hub: ReturnType<typeof switchboard>;
  /** ws:// base of the node. */
  url: string;
  http: string;
}

/** A hub with the rooms tests' routes (`mountLive`), listening on 127.0.0.1; `setup` adds what a test needs. */
export async function startLiveNode(
  options: SwitchboardOptions,
  setup: (hub: ReturnType<typeof switchboard>) => void = () => {},
): Promise<LiveNode> {
  const server = http.createServer();
  const hub = createHub(server, options);
  mountLive(hub);
  setup(hub);
  await hub.ready();
  const { port, url } = await listen(server);
  return { server, hub, url, http: `http://127.0.0.1:${port}` };
}

/** Closes the hubs, then lets their goodbyes (presence, liveness keys) go out. */
export async function stopLiveNodes(nodes: LiveNode[]): Promise<void> {
  for (const node of nodes) {
    await node.hub.close({ timeoutMs: 200 });
    await closeServer(node.server);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** A client of `/live` (any query in `url`) in `rooms`, with what it receives after joining them. */
export async function member(url: string, rooms: string[] = []): Promise<{ ws: WebSocket; seen: string[] }> {
  const ws = await open(url);
  const seen: string[] = [];
  ws.on('message', (data) => seen.push(String(data)));
  for (const room of rooms) ws.send(`join:${room}`);
  await eventually(() => rooms.every((room) => seen.includes(`ok join:${room}`)));
  seen.length = 0;
  return { ws, seen };
}
