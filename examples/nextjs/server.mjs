// Next.js (custom server, dev mode) beside the app's own ws and Socket.IO services, on one port.
//   node examples/nextjs/server.mjs [port]        (or PORT=3000)
// http://127.0.0.1:3000/            the Next.js pages (/ and /chat), hot reloaded over /_next/hmr
// ws://127.0.0.1:3000/chat          the app's ws service, on the same path as the /chat page
// http://127.0.0.1:3000/socket.io/  the app's Socket.IO service
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import next from 'next';
import { switchboard } from 'switchboard';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const host = '127.0.0.1';

let handle = (_req, res) => {
  res.writeHead(503, { 'Retry-After': '1' }).end('Next.js is starting\n');
};
const server = http.createServer((req, res) => handle(req, res));
// HANDSHAKE_TIMEOUT_MS: the tests lengthen it, to see that a socket Next.js leaves alone is answered without waiting for it.
const hub = switchboard(server, { handshakeTimeoutMs: Number(process.env.HANDSHAKE_TIMEOUT_MS ?? 10_000) });

hub.ws('/chat').on('connection', (ws) => {
  ws.send('welcome to /chat');
  ws.on('message', (data) => ws.send(`echo: ${data}`));
});
hub.io().on('connection', (socket) => {
  socket.on('ping', (text, reply) => reply(`pong: ${text}`));
});

await new Promise((resolve) => server.listen(port, host, resolve));
const { port: actualPort } = server.address();

// Next.js adds its own 'upgrade' listener (hot reload, websocket rewrites) to the server it is
// given, or else to the first request's socket.server, where it would race the hub. Given a
// stand-in, its listener gets the handshakes under /_next/ and nothing else.
const app = next({
  dev: true,
  dir: fileURLToPath(new URL('.', import.meta.url)),
  hostname: host,
  port: actualPort,
  httpServer: hub.serverFor('/_next/*'),
});
await app.prepare();
handle = app.getRequestHandler();
console.log(`listening on http://${host}:${actualPort}`);

process.on('SIGTERM', async () => {
  await hub.close();
  await app.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
