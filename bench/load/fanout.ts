/**
 * The receiving side of the fan-out measurements: every held connection counts the `seq|…`
 * messages it gets, and the parent asks when the last of N connections got message `seq`.
 */

interface Delivery {
  received: number;
  firstAt: number;
  lastAt: number;
}

interface Waiter {
  expected: number;
  resolve: (delivery: Delivery & { complete: boolean }) => void;
  timer: NodeJS.Timeout;
}

const deliveries = new Map<number, Delivery>();
const waiters = new Map<number, Waiter>();

/** Called with each fan-out message a held connection receives. */
export function received(data: unknown): void {
  const text = typeof data === 'string' ? data.slice(0, 16) : Buffer.isBuffer(data) ? data.toString('latin1', 0, 16) : '';
  const seq = Number.parseInt(text, 10);
  if (!Number.isInteger(seq)) return;
  // The machine's clock, as the server's sentAt: both processes read the same monotonic source.
  const now = performance.timeOrigin + performance.now();
  let delivery = deliveries.get(seq);
  if (!delivery) {
    delivery = { received: 0, firstAt: now, lastAt: now };
    deliveries.set(seq, delivery);
  }
  delivery.received++;
  delivery.lastAt = now;
  const waiter = waiters.get(seq);
  if (waiter && delivery.received >= waiter.expected) settle(seq, true);
}

export interface AwaitJob {
  seq: number;
  expected: number;
  timeoutMs: number;
}

/** Resolves once `expected` connections got message `seq`, or at the deadline with what arrived. */
export function awaitDelivery(job: AwaitJob): Promise<Delivery & { complete: boolean }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => settle(job.seq, false), job.timeoutMs);
    waiters.set(job.seq, { expected: job.expected, resolve, timer });
    const delivery = deliveries.get(job.seq);
    if (delivery && delivery.received >= job.expected) settle(job.seq, true);
  });
}

function settle(seq: number, complete: boolean): void {
  const waiter = waiters.get(seq);
  if (!waiter) return;
  waiters.delete(seq);
  clearTimeout(waiter.timer);
  const delivery = deliveries.get(seq) ?? { received: 0, firstAt: Number.NaN, lastAt: Number.NaN };
  deliveries.delete(seq);
  waiter.resolve({ ...delivery, complete });
}

/** Forgets every count (between servers: sequence numbers start again). */
export function resetDeliveries(): void {
  for (const seq of [...waiters.keys()]) settle(seq, false);
  deliveries.clear();
}
