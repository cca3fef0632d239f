import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, signalGroup, track } from './processes.js';
import type { FaultProxy } from './proxy.js';

export const FAULTS_NODE = fileURLToPath(new URL('../fixtures/faults/node.ts', import.meta.url));

/** A handler run as the node printed it (`RUN-START` / `RUN-DONE` lines). */
export interface RunRecord {
  kind: 'start' | 'done';
  rid: string;
  id: string;
  run: string;
  node: string;
  duplicateRisk: boolean;
  at: number;
}

export type NodeStatus = 'up' | 'down' | 'stopped';

/**
 * One hub node of the run (fixtures/faults/node.ts), one process per incarnation, each the leader
 * of its own process group. Its proxy keeps the port clients dial; the node's own port changes with
 * every start and is handed to the proxy once the node says READY.
 */
export class HubNode {
  status: NodeStatus = 'down';
  /** The current incarnation's HTTP port (publishing and presence go here, not through the proxy). */
  port: number | undefined;
  incarnation = 0;
  readonly runs: RunRecord[] = [];
  /** The last lines of output of every incarnation, for a failure report. */
  readonly log: string[] = [];
  private child: ChildProcess | undefined;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly proxy: FaultProxy,
    private readonly env: Record<string, string>,
  ) {}

  get base(): string | undefined {
    return this.port === undefined ? undefined : `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts an incarnation and waits for READY; tries again while it cannot start (its Redis being
   * restarted makes hub.ready() fail, and the fixture then exits 3), for at most `timeoutMs`.
   */
  async start(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const port = await this.startOnce();
      if (port !== undefined) {
        this.port = port;
        this.status = 'up';
        this.proxy.target = port;
        return;
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not start:\n${this.log.slice(-20).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  /** SIGKILL: no goodbye. */
  async kill(): Promise<void> {
    await this.end('SIGKILL');
  }

  /** SIGTERM: the fixture closes its hub and exits (SIGKILL after 8 s if it has not). */
  async terminate(): Promise<void> {
    await this.end('SIGTERM', 8_000);
  }

  stop(): void {
    if (!this.child || this.status !== 'up') return;
    signalGroup(this.child, 'SIGSTOP');
    this.status = 'stopped';
  }

  resume(): void {
    if (!this.child || this.status !== 'stopped') return;
    signalGroup(this.child, 'SIGCONT');
    this.status = 'up';
  }

  private async end(signal: NodeJS.Signals, graceMs = 0): Promise<void> {
    const child = this.child;
    this.proxy.target = undefined;
    this.port = undefined;
    this.status = 'down';
    if (!child) return;
    signalGroup(child, 'SIGCONT');
    signalGroup(child, signal);
    if (graceMs > 0) {
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited(child);
      clearTimeout(timer);
    } else await exited(child);
  }

  private startOnce(): Promise<number | undefined> {
    const incarnation = ++this.incarnation;
    const child = spawn(process.execPath, ['--import', 'tsx', FAULTS_NODE], {
      env: { ...process.env, ...this.env, NODE_NAME: `${this.name}.${incarnation}` },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    track(child);
    this.child = child;
    return new Promise((resolve) => {
      let settled = false;
      const done = (port: number | undefined) => {
        if (settled) return;
        settled = true;
        resolve(port);
      };
      let pending = '';
      const onData = (chunk: Buffer) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) this.line(line, incarnation, done);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code, signal) => {
        this.log.push(`[${this.name}.${incarnation}] exited ${code ?? signal}`);
        if (this.child === child && this.status !== 'stopped') {
          this.status = 'down';
          this.proxy.target = undefined;
        }
        done(undefined);
      });
    });
  }

  private line(line: string, incarnation: number, ready: (port: number) => void): void {
    const run = /^RUN-(START|DONE) (.*)$/.exec(line);
    if (run) {
      try {
        this.runs.push({
          kind: run[1] === 'START' ? 'start' : 'done',
          ...(JSON.parse(run[2] as string) as Omit<RunRecord, 'kind'>),
        });
      } catch {
        // A line cut by the kill.
      }
      return;
    }
    const readyLine = /^READY (\d+)/.exec(line);
    if (readyLine) ready(Number(readyLine[1]));
    this.log.push(`[${this.name}.${incarnation}] ${line}`);
    if (this.log.length > 400) this.log.splice(0, this.log.length - 400);
  }
}
