/**
 * The parent side of the bench's processes: spawns server and load children (pinned to their own
 * core when `taskset` exists, so a server never shares its core with its load), talks to them over
 * IPC with a deadline on every request, and kills every one of them however the bench ends.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Event, Reply } from './ipc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const live = new Set<BenchChild>();

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

export interface SpawnOptions {
  /** Script path relative to the repository root. */
  script: string;
  args?: string[];
  /** CPU to pin the process to; ignored without taskset. */
  cpu?: number;
  /** Extra Node flags (`--expose-gc`). */
  nodeFlags?: string[];
  /** Modules preloaded after tsx (the guard's register), as `--import` would. */
  imports?: string[];
  /** How long to wait for the child's `ready` event. */
  readyTimeoutMs?: number;
}

export function pinningAvailable(): boolean {
  return hasTaskset;
}

export class BenchChild extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exited = false;
  readonly ready: Promise<unknown>;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    readyTimeoutMs: number,
  ) {
    super();
    live.add(this);
    proc.on('message', (message: Reply | Event) => {
      if ('event' in message) {
        this.emit(message.event, message.data);
        return;
      }
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${name}: ${message.error}`));
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      live.delete(this);
      const error = new Error(`${name} exited (${signal ?? code}) with requests pending`);
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
      this.emit('exit', code, signal);
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs);
      this.once('ready', (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      this.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}) before it was ready`));
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  request<T>(cmd: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  /** SIGKILL: a child's sockets are closed by the kernel, server side first, so clients keep no TIME_WAIT. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

export async function spawnChild(name: string, options: SpawnOptions): Promise<BenchChild> {
  const imports = (options.imports ?? []).flatMap((specifier) => ['--import', specifier]);
  const node = [...(options.nodeFlags ?? []), '--import', 'tsx', ...imports, options.script, ...(options.args ?? [])];
  const [command, args] =
    hasTaskset && options.cpu !== undefined
      ? ['taskset', ['-c', String(options.cpu), process.execPath, ...node]]
      : [process.execPath, node];
  // taskset execs node in place, so the pid is node's and the IPC channel (fd 3) is inherited.
  const child = spawn(command as string, args as string[], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const benchChild = new BenchChild(name, child, options.readyTimeoutMs ?? 20_000);
  await benchChild.ready;
  return benchChild;
}

/** Kills every child still alive; safe to call from exit handlers. */
export function killAll(): void {
  for (const child of live) {
    try {
      process.kill(child.pid ?? -1, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  live.clear();
}
