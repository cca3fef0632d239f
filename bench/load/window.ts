/**
 * The measurement window of a timed load: a warm-up whose results are thrown away (JIT, pools,
 * the server's first GCs), then a timed window whose edges are announced to the parent so that it
 * reads the server's CPU time at the same moments.
 */
import { emitEvent } from '../ipc.js';

export interface WindowOptions {
  warmupMs: number;
  measureMs: number;
}

export class MeasureWindow {
  measuring = false;
  stopped = false;
  startedAt = 0;
  endedAt = 0;

  run({ warmupMs, measureMs }: WindowOptions): Promise<void> {
    return new Promise((resolve) => {
      setTimeout(() => {
        this.measuring = true;
        this.startedAt = performance.now();
        emitEvent('window', 'start');
        setTimeout(() => {
          this.measuring = false;
          this.stopped = true;
          this.endedAt = performance.now();
          emitEvent('window', 'end');
          resolve();
        }, measureMs);
      }, warmupMs);
    });
  }

  get seconds(): number {
    return (this.endedAt - this.startedAt) / 1000;
  }
}

/** Resolves when `isDone()` holds, or after `limitMs` at most: every wait of the load is bounded. */
export async function until(isDone: () => boolean, limitMs: number, stepMs = 10): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (!isDone()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  return true;
}

export function countError(errors: Record<string, number>, error: unknown): void {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? (error as Error | undefined)?.message ?? String(error);
  errors[code] = (errors[code] ?? 0) + 1;
}
