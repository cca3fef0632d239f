/**
 * A server process of the bench: `node --import tsx [--expose-gc] bench/servers/serve.ts <variant>`.
 * Starts one variant on 127.0.0.1, says `ready` with its port, then answers the parent's questions
 * about its own CPU time, memory and open connections. It sends no traffic.
 */
import { getHeapStatistics } from 'node:v8';
import { emitEvent, serveRequests } from '../ipc.js';
import { isVariant, VARIANTS } from './variants.js';

const name = process.argv[2] ?? '';
if (!isVariant(name)) throw new Error(`unknown server variant ${JSON.stringify(name)}`);

const bench = await (await VARIANTS[name]())();
const errors: Record<string, number> = {};
// Past the fd limit the accept loop reports EMFILE here; a bench server must say so, not die.
bench.server.on('error', (error: NodeJS.ErrnoException) => {
  const code = error.code ?? error.message;
  errors[code] = (errors[code] ?? 0) + 1;
  if (errors[code] === 1) emitEvent('server-error', { code, connections: bench.connections() });
});

const gc = (globalThis as { gc?: () => void }).gc;

serveRequests({
  cpu: () => ({ cpu: process.cpuUsage(), at: performance.now() }),
  connections: () => bench.connections(),
  errors: () => errors,
  // Without collecting first, and without process.memoryUsage(): at the fd limit that cannot open
  // /proc/self/stat for RSS (EMFILE), so the parent reads RSS from /proc itself.
  heap: () => getHeapStatistics().used_heap_size,
  // One fan-out message, `seq|` padded to `bytes`: how long the call held the event loop, and when
  // it began on the machine's clock (shared with the load process, for delivery latency).
  broadcast: (args) => {
    const { seq, bytes } = args as { seq: number; bytes: number };
    if (!bench.broadcast) throw new Error(`server variant ${name} does not broadcast`);
    const message = `${seq}|`.padEnd(bytes, '.');
    const startedAt = performance.now();
    bench.broadcast(message);
    const syncMs = performance.now() - startedAt;
    return { sentAt: performance.timeOrigin + startedAt, syncMs };
  },
  users: (args) => {
    if (!bench.sampleUsers) throw new Error(`server variant ${name} has no users`);
    return bench.sampleUsers((args as { count: number }).count);
  },
  'to-users': (args) => {
    const { seq, bytes, ids } = args as { seq: number; bytes: number; ids: string[] };
    if (!bench.toUsers) throw new Error(`server variant ${name} does not send to users`);
    const message = `${seq}|`.padEnd(bytes, '.');
    const startedAt = performance.now();
    bench.toUsers(ids, message);
    return { sentAt: performance.timeOrigin + startedAt, syncMs: performance.now() - startedAt };
  },
  // Several collections a few ticks apart: weak references and finalizers let go of more on the second.
  memory: async () => {
    if (!gc) throw new Error('memory needs --expose-gc');
    for (let pass = 0; pass < 4; pass++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return process.memoryUsage();
  },
});

const address = bench.server.address();
const guarded = Boolean((globalThis as Record<symbol, unknown>)[Symbol.for('switchboard.guard.installed')]);
const hub = Boolean((bench.server as unknown as Record<symbol, unknown>)[Symbol.for('switchboard.hub')]);
emitEvent('ready', {
  port: typeof address === 'object' && address ? address.port : 0,
  path: bench.path,
  protocol: bench.protocol,
  guarded,
  hub,
});
