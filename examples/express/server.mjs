// Express with the app's own ws and Socket.IO services, on one port.
//   node examples/express/server.mjs [port]     (or PORT=3000)
// http://127.0.0.1:3000/api/hello   an Express route (every path Socket.IO does not own stays Express's)
// ws://127.0.0.1:3000/chat          a ws service
// http://127.0.0.1:3000/socket.io/  Socket.IO, websocket and long-polling
import http from 'node:http';
import express from 'express';
import { switchboard } from 'switchboard';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

const app = express();
app.get('/api/hello', (_req, res) => res.json({ hello: 'from express' }));

const server = http.createServer(app);
const hub = switchboard(server);

hub.ws('/chat').on('connection', (ws) => {
  ws.send('welcome to /chat');
  ws.on('message', (data) => ws.send(`echo: ${data}`));
});
hub.io().on('connection', (socket) => {
  socket.on('ping', (text, reply) => reply(`pong: ${text}`));
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));

process.on('SIGTERM', async () => {
  await hub.close();
  server.close(() => process.exit(0));
});
