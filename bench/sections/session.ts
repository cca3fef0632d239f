/**
 * Starting a server variant in its own process and running one timed load job against it, with the
 * server's CPU time read at the edges of the load's measurement window. CPU time per handshake or
 * per message is the figure that stays true when the load generator, not the server, sets the pace.
 */
import { type BenchChild, spawnChild } from '../children.js';
import { guardRegister } from '../library.js';
import type { HoldJob, HoldResult } from '../load/hold.js';
import { type CpuSnapshot, DISTURBED_CORES, foreignCores, snapshot } from '../quiet.js';
import type { VariantName } from '../servers/variants.js';

/** Server on core 0, load on core 1: the server never shares its core with its load. */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;

export interface ServerReady {
  port: number;
  path: string;
  protocol: 'ws' | 'socketio';
  guarded: boolean;
  hub: boolean;
}

export interface RunningServer {
  child: BenchChild;
  ready: ServerReady;
  wsUrl: string;
  httpUrl: string;
}

export async function startServer(variant: VariantName, options: { gc?: boolean; guard?: boolean } = {}): Promise<RunningServer> {
  const nodeFlags: string[] = [];
  if (options.gc) nodeFlags.push('--expose-gc');
  const child = await spawnChild(`server ${variant}${options.guard ? ' (guard)' : ''}`, {
    script: 'bench/servers/serve.ts',
    args: [variant],
    cpu: SERVER_CPU,
    nodeFlags,
    // As a user would: `node --import switchboard/register app` (here after tsx, which runs the app).
    imports: options.guard ? [guardRegister()] : [],
  });
  const ready = (await child.ready) as ServerReady;
  return {
    child,
    ready,
    wsUrl: `ws://127.0.0.1:${ready.port}${ready.path}`,
    httpUrl: `http://127.0.0.1:${ready.port}`,
  };
}

export function startLoad(name = 'load'): Promise<BenchChild> {
  return spawnChild(name, { script: 'bench/load/client.ts', cpu: LOAD_CPU });
}

interface CpuMark {
  cpu: NodeJS.CpuUsage;
  at: number;
}

export interface Timed<T> {
  result: T;
  /** Server CPU time (user + system) inside the window, µs. */
  serverCpuUs: number;
  /** Server CPU time over wall time inside the window: near 1 means the server set the pace. */
  serverBusy: number;
  /** Cores' worth of CPU other processes used inside the window (see quiet.ts). */
  foreign: number;
}

/** Runs a windowed load job (`handshake`, `echo`) and reads the server's CPU time at the window's edges. */
export async function timedJob<T>(server: RunningServer, load: BenchChild, cmd: string, job: object): Promise<Timed<T>> {
  const marks: Promise<CpuMark>[] = [];
  const machine: CpuSnapshot[] = [];
  const onWindow = () => {
    machine.push(snapshot([server.child.pid, load.pid]));
    marks.push(server.child.request<CpuMark>('cpu', undefined, 30_000));
  };
  load.on('window', onWindow);
  try {
    const result = await load.request<T>(cmd, job, 60_000);
    const [start, end] = await Promise.all(marks);
    const [machineStart, machineEnd] = machine;
    if (!start || !end || !machineStart || !machineEnd) throw new Error(`${cmd}: the load did not report its measurement window`);
    const serverCpuUs = end.cpu.user + end.cpu.system - (start.cpu.user + start.cpu.system);
    return {
      result,
      serverCpuUs,
      serverBusy: serverCpuUs / 1000 / (end.at - start.at),
      foreign: foreignCores(machineStart, machineEnd),
    };
  } finally {
    load.off('window', onWindow);
  }
}

/** Time the whole run may spend measuring disturbed windows again, shared by every section. */
export interface RetryBudget {
  attempts: number;
  spentMs: number;
  limitMs: number;
}

/**
 * Runs `measure` again while other processes disturbed it, at most `budget.attempts` times and
 * while the run's retry time lasts, keeping the least disturbed result.
 */
export async function leastDisturbed<T extends { foreign: number }>(
  measure: () => Promise<T>,
  budget: RetryBudget,
): Promise<T & { attempts: number }> {
  let best: T | undefined;
  let attempt = 0;
  while (attempt < budget.attempts) {
    const startedAt = performance.now();
    attempt++;
    const result = await measure();
    if (attempt > 1) budget.spentMs += performance.now() - startedAt;
    if (!best || result.foreign < best.foreign) best = result;
    if (best.foreign <= DISTURBED_CORES || budget.spentMs >= budget.limitMs) break;
  }
  return { ...(best as T), attempts: attempt };
}

/** `[a, b, c]` rotated by `round`: each variant takes each position in turn across rounds. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Client source addresses for held connections: 127.0.0.2 … (the server is on 127.0.0.1). */
const HOLD_ADDRESSES = Array.from({ length: 20 }, (_, index) => `127.0.0.${index + 2}`);

/** Has the load open `count` idle connections to `server` and keep them. */
export function holdConnections(
  load: BenchChild,
  server: RunningServer,
  count: number,
  extra: Partial<HoldJob> = {},
): Promise<HoldResult> {
  const socketio = server.ready.protocol === 'socketio';
  const job: HoldJob = {
    url: socketio ? server.httpUrl : server.wsUrl,
    protocol: server.ready.protocol,
    path: socketio ? server.ready.path : undefined,
    count,
    addresses: HOLD_ADDRESSES,
    inFlight: 64,
    timeBudgetMs: 60_000,
    maxConsecutiveErrors: 100,
    ...extra,
  };
  return load.request<HoldResult>('hold', job, 90_000);
}
