/**
 * Two ws services and one custom handler on one port: what `npm start` runs.
 *   ws://localhost:3000/chat              echo chat, broadcast to everyone in it
 *   ws://localhost:3000/notifications/ws  a tick every 5 seconds, authenticated by ?user=
 *   ws://localhost:3000/raw/anything      a custom handler that echoes the path it was given
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { switchboard } from '../../src/index.js';

const port = Number(process.env.PORT ?? 3000);
const server = http.createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ routes: hub.routes(), stats: hub.stats() }, null, 2));
});
const hub = switchboard(server);

const chat = hub.ws('/chat');
chat.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of chat.clients) client.send(data, { binary: isBinary });
  });
});

const notifications = hub.ws(
  '/notifications/ws',
  {},
  { authenticate: (req) => new URL(req.url ?? '/', 'http://x').searchParams.get('user') },
);
notifications.on('connection', (ws) => ws.send(JSON.stringify({ hello: ws.principal })));
setInterval(() => {
  for (const client of notifications.clients) client.send(JSON.stringify({ tick: Date.now() }));
}, 5_000).unref();

const echo = new WebSocketServer({ noServer: true });
hub.handle('/raw/*', (req, socket, head, ctx) => {
  echo.handleUpgrade(req, socket, head, (ws) => ws.send(`you asked for ${ctx.params['*']}`));
});

hub.on('reject', ({ status, path, reason }) => console.log(`rejected ${path}: ${status} ${reason}`));

server.listen(port, () => {
  console.log(`switchboard example on http://localhost:${port} (routes and stats as JSON)`);
  for (const route of hub.routes()) console.log(`  ${route.kind.padEnd(8)} ${route.pattern}`);
});

process.on('SIGTERM', () => hub.close().then(() => server.close()));
process.on('SIGINT', () => hub.close().then(() => process.exit(0)));
