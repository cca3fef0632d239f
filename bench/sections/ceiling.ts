/**
 * How many idle connections one server process holds: several load processes open connections to
 * a hub route from many source addresses in 127.0.0.0/8 until something gives (the server's file
 * descriptors, the clients', ports, memory) or the bench's own bound or time budget is reached,
 * and the section says which it was.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { type BenchChild, spawnChild } from '../children.js';
import type { Context } from '../context.js';
import type { HoldJob, HoldResult } from '../load/hold.js';
import { bytes, num, type SectionResult } from '../report.js';
import { LOAD_CPU, startServer } from './session.js';

interface ServerError {
  code: string;
  connections: number;
}

export function fdLimit(): string {
  const result = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'unknown';
}

export async function ceilingSection(context: Context): Promise<SectionResult> {
  const { max, loaders: loaderCount, timeBudgetMs, addressesPerLoader } = context.config.ceiling;
  const limit = fdLimit();
  const server = await startServer('hub');
  const serverErrors: ServerError[] = [];
  server.child.on('server-error', (error: ServerError) => serverErrors.push(error));
  const loaders: BenchChild[] = [];
  const startedAt = performance.now();
  let peak = 0;
  let peakAt = startedAt;
  let results: HoldResult[] = [];
  let usage: { rss: number; heapUsed: number } | undefined;
  let serverFds = Number.NaN;
  try {
    for (let index = 0; index < loaderCount; index++) {
      loaders.push(await spawnChild(`ceiling load ${index + 1}`, { script: 'bench/load/client.ts', cpu: LOAD_CPU }));
    }
    const perLoader = Math.ceil(max / loaderCount);
    const holds = loaders.map((loader, index) => {
      const job: HoldJob = {
        url: server.wsUrl,
        protocol: 'ws',
        count: perLoader,
        // 127.0.<10+i>.1 …: each loader its own addresses, each address its own ephemeral ports.
        addresses: Array.from({ length: addressesPerLoader }, (_, slot) => `127.0.${10 + index}.${slot + 1}`),
        inFlight: 128,
        timeBudgetMs,
        maxConsecutiveErrors: 300,
      };
      return loader.request<HoldResult>('hold', job, timeBudgetMs + 60_000);
    });
    let done = false;
    const all = Promise.all(holds).finally(() => {
      done = true;
    });
    let stopSent = false;
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const connections = await server.child.request<number>('connections', undefined, 30_000);
      if (connections > peak) {
        peak = connections;
        peakAt = performance.now();
      }
      const stalled = performance.now() - peakAt > 3_000;
      const overTime = performance.now() - startedAt > timeBudgetMs;
      // Nothing opened for a while (the server's fd table is full, or errors): stop the loaders instead of letting them fail on.
      if (!stopSent && (stalled || overTime)) {
        stopSent = true;
        await Promise.all(loaders.map((loader) => loader.request('stop')));
      }
    }
    results = await all;
    peak = Math.max(peak, await server.child.request<number>('connections', undefined, 30_000));
    usage = { rss: rssOf(server.child.pid), heapUsed: await server.child.request<number>('heap', undefined, 30_000) };
    serverFds = openFds(server.child.pid);
  } finally {
    await server.child.kill();
    await Promise.all(loaders.map((loader) => loader.kill()));
  }

  const seconds = (peakAt - startedAt) / 1000;
  const clientErrors: Record<string, number> = {};
  for (const result of results) {
    for (const [code, count] of Object.entries(result.errors)) clientErrors[code] = (clientErrors[code] ?? 0) + count;
  }
  const limitedBy = whatLimited(peak, max, limit, serverFds, serverErrors, clientErrors, results, timeBudgetMs);
  context.log(`ceiling: ${peak} connections in ${seconds.toFixed(1)} s; limited by ${limitedBy}`);
  const errorText = Object.entries(clientErrors)
    .map(([code, count]) => `${code}×${count}`)
    .join(', ');
  return {
    id: 'ceiling',
    tables: [
      {
        title: 'Connection ceiling: idle connections held by one server process (hub ws route)',
        columns: ['connections reached', 'time to reach', 'limited by', 'server RSS', 'server heap', 'client errors'],
        rows: [
          [
            peak.toLocaleString('en-US'),
            `${num(seconds)} s`,
            limitedBy,
            usage ? bytes(usage.rss) : '–',
            usage ? bytes(usage.heapUsed) : '–',
            errorText || '0',
          ],
        ],
        notes: [
          `${loaderCount} load processes, each binding its clients to ${addressesPerLoader} source addresses in 127.0.0.0/8 in turn ` +
            `(~28k ephemeral ports each), ${max.toLocaleString('en-US')} connections at most, ${timeBudgetMs / 1000} s at most.`,
          `\`ulimit -n\` is ${limit} for every process here (the bench does not change system settings): one server process ` +
            'cannot hold more connections than that, less the few descriptors it uses for itself.',
        ],
      },
    ],
    targets: [],
    data: { peak, seconds, limitedBy, serverFds, serverErrors, clientErrors, results, usage, fdLimit: limit },
  };
}

/** Resident set size of another process, from /proc (the server itself may have no fd left to read it). */
function rssOf(pid: number | undefined): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Descriptors a process has open, counted from outside. */
function openFds(pid: number | undefined): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

function whatLimited(
  peak: number,
  max: number,
  limit: string,
  serverFds: number,
  serverErrors: ServerError[],
  clientErrors: Record<string, number>,
  results: HoldResult[],
  timeBudgetMs: number,
): string {
  // libuv meets EMFILE in accept by accepting and closing the connection at once (its "EMFILE
  // trick"), without telling JavaScript: the clients see ECONNRESET and the server's fd table is full.
  if (Number(limit) > 0 && serverFds >= Number(limit) - 1) {
    return `server file descriptors: all ${limit} of ulimit -n in use (${peak.toLocaleString('en-US')} connections + ${serverFds - peak} others); further connections reset`;
  }
  const accept = serverErrors.find((error) => error.code === 'EMFILE' || error.code === 'ENFILE');
  if (accept) {
    return `server file descriptors (${accept.code} in accept at ${accept.connections.toLocaleString('en-US')} connections; ulimit -n ${limit})`;
  }
  if (clientErrors.EMFILE || clientErrors.ENFILE) return `client file descriptors (EMFILE in a load process; ulimit -n ${limit})`;
  if (clientErrors.EADDRNOTAVAIL || clientErrors.EADDRINUSE) return 'client ephemeral ports (EADDRNOTAVAIL)';
  if (peak >= max) return `the bench's bound of ${max.toLocaleString('en-US')} connections`;
  if (results.some((result) => result.stoppedBy === 'time')) return `the time budget (${timeBudgetMs / 1000} s)`;
  const top = Object.entries(clientErrors).sort((a, b) => b[1] - a[1])[0];
  return top ? `client errors (${top[0]})` : 'unknown (no error reported)';
}
