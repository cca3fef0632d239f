// Several Node processes behind one port, sharing rooms through Redis.
//   node examples/cluster/server.mjs            (PORT=3000 WORKERS=2 REDIS_URL=redis://127.0.0.1:6379)
// ws://localhost:3000/live?room=news           join a room
// curl 'localhost:3000/publish?room=news&text=hi'  publish from whichever worker takes the request
import cluster from 'node:cluster';
import http from 'node:http';
import { switchboard } from 'switchboard';
import { redisBroker } from 'switchboard/redis';

const port = Number(process.env.PORT ?? 3000);
const workers = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  for (let index = 0; index < workers; index++) cluster.fork();
  cluster.on('exit', (worker, code) => console.log(`worker ${worker.process.pid} exited with ${code}`));
} else {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/publish') {
      hub.publish(url.searchParams.get('room') ?? 'news', `${url.searchParams.get('text') ?? ''} (via worker ${process.pid})`);
      res.end(`published by worker ${process.pid}\n`);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  const hub = switchboard(server, { broker: redisBroker({ url: process.env.REDIS_URL, prefix: process.env.PREFIX }) });
  hub.ws('/live').on('connection', (ws, req) => {
    hub.join(ws, new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? 'news');
    ws.send(`welcome from worker ${process.pid}`);
  });
  await hub.ready(); // Redis down at start: a clear error, and the worker exits
  server.listen(port, '127.0.0.1', () => {
    if (process.send) process.send({ listening: server.address().port });
  });
  process.on('SIGTERM', () => hub.close().then(() => process.exit(0)));
}
if (cluster.isPrimary) {
  let ready = 0;
  cluster.on('message', (_worker, message) => {
    if (message?.listening !== undefined && ++ready === workers) console.log(`READY ${message.listening}`);
  });
}
