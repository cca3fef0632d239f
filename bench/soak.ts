/**
 * Soak: many connect/send/close cycles against a hub with rooms, users and a per-user policy,
 * then checks that memory and listener counts end where they started.
 *   node --expose-gc --import tsx bench/soak.ts [--cycles 100000] [--concurrency 50] [--json]
 * The load runs in its own process; traffic goes to 127.0.0.1 only.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { switchboard } from '../src/index.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(args[index + 1]);
};
const cycles = option('cycles', 100_000);
const concurrency = option('concurrency', 50);
const json = args.includes('--json');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const server = http.createServer();
const hub = switchboard(server);
hub
  .ws(
    '/soak',
    {},
    {
      authenticate: (req) => {
        const query = new URL(req.url ?? '/', 'http://x').searchParams;
        return { userId: query.get('user') ?? 'anon', tenantId: query.get('tenant') ?? 'none' };
      },
      perUser: { max: 1_000 },
    },
  )
  .on('connection', (ws) => {
    hub.join(ws, 'everyone');
    ws.on('message', (data) => ws.send(data));
  });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

const listeners = () =>
  Object.fromEntries(
    ['upgrade', 'request', 'connection', 'close', 'error', 'listening'].map((event) => [event, server.listenerCount(event)]),
  );
const heap = () => {
  for (let pass = 0; pass < 3; pass++) gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
};

// Warm up once so that lazily created structures are not counted as growth.
await runLoad(Math.min(1_000, cycles));
await settle();
const before = { memory: heap(), listeners: listeners() };
const started = Date.now();
const load = await runLoad(cycles);
await settle();
const after = { memory: heap(), listeners: listeners() };

const report = {
  cycles,
  concurrency,
  finished: load.finished,
  failed: load.failed,
  seconds: (Date.now() - started) / 1000,
  heapGrowthBytes: after.memory.heapUsed - before.memory.heapUsed,
  rssGrowthBytes: after.memory.rss - before.memory.rss,
  heapBefore: before.memory.heapUsed,
  heapAfter: after.memory.heapUsed,
  listenersBefore: before.listeners,
  listenersAfter: after.listeners,
  openConnections: hub.stats().connections,
  rooms: hub.realtime.rooms.sizes(),
  accepted: hub.stats().accepted,
  errors: hub.stats().errors,
};
if (json) console.log(JSON.stringify(report));
else {
  console.log(`soak: ${report.finished} of ${cycles} cycles in ${report.seconds.toFixed(1)} s (${report.failed} failed)`);
  console.log(
    `  heap ${mib(report.heapBefore)} -> ${mib(report.heapAfter)} MiB (growth ${(report.heapGrowthBytes / 1024).toFixed(0)} KiB), rss growth ${mib(report.rssGrowthBytes)} MiB`,
  );
  console.log(`  listeners before ${JSON.stringify(report.listenersBefore)} after ${JSON.stringify(report.listenersAfter)}`);
  console.log(`  open connections ${report.openConnections}, rooms ${JSON.stringify(report.rooms)}`);
}
await hub.close();
server.close();

function runLoad(count: number): Promise<{ finished: number; failed: number }> {
  return new Promise((resolve, reject) => {
    const client = fork(
      fileURLToPath(new URL('./soak-client.ts', import.meta.url)),
      [`ws://127.0.0.1:${port}/soak`, String(count), String(concurrency)],
      {
        execArgv: ['--import', 'tsx'],
      },
    );
    client.once('message', (message) => resolve(message as { finished: number; failed: number }));
    client.once('exit', (code) => code !== 0 && reject(new Error(`soak client exited with ${code}`)));
  });
}

async function settle(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (hub.stats().connections > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 100));
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
