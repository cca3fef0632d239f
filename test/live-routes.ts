import type http from 'node:http';
import type { switchboard } from '../src/index.js';

/** Identity from `?user=&tenant=`, as the rooms tests and their cluster nodes give it. */
export function identityFromQuery(req: http.IncomingMessage) {
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  return { userId: query.get('user') ?? 'anon', tenantId: query.get('tenant') ?? 'none' };
}

/**
 * The routes rooms are tested on: a ws route `/live` whose clients join a room by sending
 * `join:<room>` and leave with `leave:<room>` (each answered `ok <frame>`), and the shared
 * Socket.IO server; both identify their clients from the query.
 */
export function mountLive(hub: ReturnType<typeof switchboard>): void {
  hub.ws('/live', {}, { authenticate: identityFromQuery }).on('connection', (ws) => {
    ws.on('message', (data) => {
      const [command, room] = String(data).split(':');
      if (command === 'join') hub.join(ws, room as string);
      if (command === 'leave') hub.leave(ws, room as string);
      ws.send(`ok ${data}`);
    });
  });
  hub.io(undefined, { authenticate: identityFromQuery });
}
