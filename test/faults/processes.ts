import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Every process the harness started (Redis, hub nodes), each the leader of its own process group,
 * so that whatever happens to the run, one call kills them all (also when the harness itself exits
 * on an uncaught error: the 'exit' hook runs synchronously).
 */
const started = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** Sends `signal` to the process group of `child` (falls back to the process itself). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Gone already.
    }
  }
}

/** SIGCONT (a stopped process cannot die of anything else first), then SIGKILL, to every process still running. */
export function killAll(): void {
  for (const child of started) {
    signalGroup(child, 'SIGCONT');
    signalGroup(child, 'SIGKILL');
  }
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Temporary directories of the run (Redis's), removed when the harness exits, however it exits. */
const directories = new Set<string>();

export function trackDirectory(directory: string): string {
  directories.add(directory);
  return directory;
}

export function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  directories.delete(directory);
}

process.once('exit', () => {
  killAll();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});
