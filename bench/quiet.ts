/**
 * Is the machine quiet? On a 2-core machine anything else running (a test suite, a browser) takes
 * CPU from the server or its load and moves the figures by tens of percent. The CPU time the
 * whole machine spent during a measurement window, minus what the bench's own processes spent,
 * is the load of others; a window where it is high is measured again, a bounded number of times,
 * and the report shows how much foreign load remained.
 */
import { readFileSync } from 'node:fs';

/** Linux's USER_HZ, the unit of /proc tick counts; 100 on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  at: number;
  /** user + nice + system + steal of all CPUs; interrupts are left out, they follow our own traffic. */
  machineTicks: number;
  ownTicks: number;
}

export function snapshot(pids: readonly (number | undefined)[]): CpuSnapshot {
  return { at: performance.now(), machineTicks: machineTicks(), ownTicks: ownTicks([process.pid, ...pids]) };
}

/** Cores' worth of CPU used by other processes (and the hypervisor) between two snapshots. */
export function foreignCores(start: CpuSnapshot, end: CpuSnapshot): number {
  const seconds = (end.at - start.at) / 1000;
  if (seconds <= 0) return 0;
  const foreign = end.machineTicks - start.machineTicks - (end.ownTicks - start.ownTicks);
  return Math.max(0, foreign / TICKS_PER_SECOND / seconds);
}

/** Above this, a window is measured again: a tenth of a core is already a few percent of a figure. */
export const DISTURBED_CORES = 0.1;

function machineTicks(): number {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
    const [, user = 0, nice = 0, system = 0, , , , , steal = 0] = line.trim().split(/\s+/).map(Number);
    return user + nice + system + steal;
  } catch {
    return 0; // Not Linux: no foreign-load check.
  }
}

function ownTicks(pids: readonly (number | undefined)[]): number {
  let total = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // Fields after the command name, which may itself hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process has exited; its time is gone from the machine's count too.
    }
  }
  return total;
}
