// Vite in middleware mode, its hot reload socket beside the app's own ws and Socket.IO services,
// on one port.
//   node examples/vite/server.mjs [port]        (or PORT=3000)
// http://127.0.0.1:3000/            the page, served and hot reloaded by Vite (HMR: '/', protocol vite-hmr)
// ws://127.0.0.1:3000/chat          the app's ws service
// http://127.0.0.1:3000/socket.io/  the app's Socket.IO service
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { switchboard } from 'switchboard';
import { createServer as createViteServer } from 'vite';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const host = '127.0.0.1';

let vite;
const server = http.createServer((req, res) => vite.middlewares(req, res));
const hub = switchboard(server);

hub.ws('/chat').on('connection', (ws) => {
  ws.send('welcome to /chat');
  ws.on('message', (data) => ws.send(`echo: ${data}`));
});
hub.io().on('connection', (socket) => {
  socket.on('ping', (text, reply) => reply(`pong: ${text}`));
});

// Vite adds its own 'upgrade' listener to the server it is given. Given a stand-in, the listener
// gets only Vite's two sockets: HMR and the ping its client sends to tell when a restarted server
// is back, both on Vite's base path and told apart from the app's by their sub-protocol.
const viteSockets = hub.serverFor('/', { protocol: 'vite-hmr' }).route('/', { protocol: 'vite-ping' });
vite = await createViteServer({
  root: fileURLToPath(new URL('.', import.meta.url)),
  configFile: false,
  // Vite's dependency cache stays out of the example's folder.
  cacheDir: fileURLToPath(new URL('../../node_modules/.cache/switchboard-examples/vite', import.meta.url)),
  logLevel: 'warn',
  appType: 'spa',
  server: { middlewareMode: true, ws: { server: viteSockets } },
});

server.listen(port, host, () => console.log(`listening on http://${host}:${server.address().port}`));

process.on('SIGTERM', async () => {
  await hub.close();
  await vite.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
