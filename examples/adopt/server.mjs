// A foreign library's own 'upgrade' listener adopted by the hub: Vite's dev server, which attaches
// its hot-reload listener to the HTTP server it creates, beside the app's ws and Socket.IO services.
//   node examples/adopt/server.mjs [port]       (or PORT=3000)
//   node --import switchboard/register examples/adopt/server.mjs   (the guard adopts it by itself)
// http://127.0.0.1:3000/            the page of examples/vite, served and hot reloaded by Vite
// ws://127.0.0.1:3000/chat          the app's ws service
// http://127.0.0.1:3000/socket.io/  the app's Socket.IO service
import { fileURLToPath } from 'node:url';
import { switchboard } from 'switchboard';
import { createServer as createViteServer } from 'vite';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

/** Mounts the app's real-time services on the server Vite creates, and adopts Vite's listener. */
const realtime = {
  name: 'realtime-services',
  configureServer(vite) {
    const server = vite.httpServer;
    const hub = switchboard(server);
    // Vite's listener is already on the server, where it would be handed every socket the hub
    // routes too. Adopted, it is taken off the server and offered only the handshakes no route
    // takes. Vite answers its own and returns without touching any other, so an unknown path gets
    // the hub's 404 at once; examples/vite gives Vite a stand-in instead (hub.serverFor), which
    // hands it only its own sockets.
    for (const listener of server.listeners('upgrade')) hub.adopt(listener);

    hub.ws('/chat').on('connection', (ws) => {
      ws.send('welcome to /chat');
      ws.on('message', (data) => ws.send(`echo: ${data}`));
    });
    hub.io().on('connection', (socket) => {
      socket.on('ping', (text, reply) => reply(`pong: ${text}`));
    });
  },
};

const vite = await createViteServer({
  root: fileURLToPath(new URL('../vite', import.meta.url)),
  configFile: false,
  cacheDir: fileURLToPath(new URL('../../node_modules/.cache/switchboard-examples/adopt', import.meta.url)),
  logLevel: 'warn',
  plugins: [realtime],
  server: { host: '127.0.0.1', port, strictPort: true },
});
await vite.listen();
console.log(`listening on http://127.0.0.1:${vite.httpServer.address().port}`);

process.on('SIGTERM', async () => {
  await switchboard(vite.httpServer).close();
  await vite.close();
  process.exit(0);
});
