// Fastify with @fastify/websocket routes beside the app's own ws and Socket.IO services, on one port.
//   node examples/fastify/server.mjs [port]     (or PORT=3000)
// http://127.0.0.1:3000/api/hello   a Fastify route
// ws://127.0.0.1:3000/live/echo     a @fastify/websocket route (Fastify's hooks and routing run as usual)
// ws://127.0.0.1:3000/chat          a ws service of the hub
// http://127.0.0.1:3000/socket.io/  Socket.IO, websocket and long-polling
import fastifyWebsocket from '@fastify/websocket';
import Fastify from 'fastify';
import { switchboard } from 'switchboard';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

const fastify = Fastify();
const hub = switchboard(fastify.server);

// @fastify/websocket listens to 'upgrade' on the server it is given. Given a stand-in, it gets
// the handshakes under /live/ and routes them through Fastify; the hub keeps every other path.
await fastify.register(fastifyWebsocket, { options: { server: hub.serverFor('/live/*') } });
fastify.get('/live/echo', { websocket: true }, (socket) => {
  socket.send('welcome to /live/echo');
  socket.on('message', (data) => socket.send(`fastify echo: ${data}`));
});
fastify.get('/api/hello', async () => ({ hello: 'from fastify' }));

hub.ws('/chat').on('connection', (ws) => {
  ws.send('welcome to /chat');
  ws.on('message', (data) => ws.send(`echo: ${data}`));
});
hub.io().on('connection', (socket) => {
  socket.on('ping', (text, reply) => reply(`pong: ${text}`));
});

const address = await fastify.listen({ port, host: '127.0.0.1' });
console.log(`listening on ${address}`);

process.on('SIGTERM', async () => {
  await hub.close();
  await fastify.close();
  process.exit(0);
});
