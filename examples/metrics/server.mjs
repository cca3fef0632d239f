// Prometheus metrics of a hub, on the app's own server: /metrics beside a ws and a Socket.IO service.
//   node examples/metrics/server.mjs [port]     (or PORT=3000)
// http://127.0.0.1:3000/metrics   the hub's series (and Node's own) for Prometheus to scrape
// ws://127.0.0.1:3000/chat        a ws service
// grafana-dashboard.json          a Grafana dashboard of these series (import it, pick the data source)
import http from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { switchboard } from 'switchboard';
import { collectMetrics } from 'switchboard/metrics';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

const register = new Registry();
collectDefaultMetrics({ register });

const server = http.createServer(async (req, res) => {
  if (req.url === '/metrics') {
    // Put this behind your own authentication or network policy: it says how busy the app is.
    res.setHeader('Content-Type', register.contentType);
    res.end(await register.metrics());
    return;
  }
  res.statusCode = 404;
  res.end('not found');
});
const hub = switchboard(server);
collectMetrics(hub, { register });

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
