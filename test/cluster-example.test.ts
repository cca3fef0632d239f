import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, nextMessage, open, startApp } from './helpers.js';

const EXAMPLE = fileURLToPath(new URL('../examples/cluster/server.mjs', import.meta.url));

/** A free port: the cluster's workers must share one known port. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as import('node:net').AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('examples/cluster: two workers behind one port, rooms through Redis', () => {
  it('delivers a publish made on one worker to clients held by the other', async (t) => {
    const port = await freePort();
    const app = await startApp(EXAMPLE, { env: { PORT: String(port), WORKERS: '2', PREFIX: `example-${randomUUID()}` } });
    t.after(app.stop);
    assert.equal(app.port, port, app.output());

    // Connections are spread over the workers by the cluster; open until both hold some.
    const clients = [];
    const workers = new Set<string>();
    for (let index = 0; index < 20 && workers.size < 2; index++) {
      const ws = await open(`ws://127.0.0.1:${port}/live?room=news`);
      workers.add((await nextMessage(ws)).replace('welcome from worker ', ''));
      clients.push(ws);
    }
    assert.equal(workers.size, 2, 'clients on both workers');
    const received = clients.map(() => [] as string[]);
    clients.forEach((ws, index) => {
      ws.on('message', (data) => received[index]?.push(String(data)));
    });
    const answer = await (await fetch(`http://127.0.0.1:${port}/publish?room=news&text=hello`)).text();
    const publisher = /worker (\d+)/.exec(answer)?.[1];
    await eventually(() => received.every((messages) => messages.length === 1));
    for (const messages of received) assert.equal(messages[0], `hello (via worker ${publisher})`);
    for (const ws of clients) ws.close();
  });
});
