// Yjs documents over y-websocket, one per room named by the path, beside a plain ws service.
//   node examples/y-websocket/server.mjs [port] (or PORT=3000)
// ws://127.0.0.1:3000/<room>    a shared Yjs document (new WebsocketProvider('ws://127.0.0.1:3000', room, doc))
// ws://127.0.0.1:3000/chat      a ws service: an exact path wins over the '/:room' pattern
import http from 'node:http';
import { contextOf, switchboard } from 'switchboard';
import { setupWSConnection } from 'y-websocket/bin/utils';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

const server = http.createServer((_req, res) => res.writeHead(404).end());
const hub = switchboard(server);

hub.ws('/:room').on('connection', (ws, req) => {
  setupWSConnection(ws, req, { docName: contextOf(req).params.room });
});

hub.ws('/chat').on('connection', (ws) => {
  ws.send('welcome to /chat');
  ws.on('message', (data) => ws.send(`echo: ${data}`));
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));

process.on('SIGTERM', async () => {
  await hub.close();
  server.close(() => process.exit(0));
});
