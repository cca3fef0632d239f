/**
 * Median, spread and percentiles. Every figure of the bench is a set of rounds, reported as its
 * median with the min–max range, so a single lucky or unlucky round cannot make a headline.
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Number of rounds behind the figure. */
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  const sorted = [...finite].sort((a, b) => a - b);
  return {
    median: quantileSorted(sorted, 0.5),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    n: sorted.length,
  };
}

/** Linear interpolation between the two nearest ranks (the usual "type 7" quantile). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

/**
 * Latency samples of one measurement window, kept in a typed array so that a few hundred thousand
 * echo round trips cost no garbage. Past the cap, samples are kept by reservoir sampling so the
 * percentiles stay unbiased without memory growing with the run's length.
 */
export class LatencyRecorder {
  private samples: Float64Array;
  private length = 0;
  private seen = 0;

  constructor(private readonly cap = 1 << 20) {
    this.samples = new Float64Array(Math.min(cap, 1 << 14));
  }

  record(ms: number): void {
    this.seen++;
    if (this.length < this.cap) {
      if (this.length === this.samples.length) {
        const grown = new Float64Array(Math.min(this.cap, this.samples.length * 2));
        grown.set(this.samples);
        this.samples = grown;
      }
      this.samples[this.length++] = ms;
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.cap) this.samples[slot] = ms;
  }

  get count(): number {
    return this.seen;
  }

  percentiles(): { p50: number; p99: number; max: number } {
    if (this.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
    const sorted = this.samples.slice(0, this.length).sort();
    return { p50: quantileSorted(sorted, 0.5), p99: quantileSorted(sorted, 0.99), max: sorted[sorted.length - 1] as number };
  }
}

/**
 * Ratios of paired rounds (the subject and its alternative ran back to back in the same round),
 * summarised. Pairing cancels the drift that a busy machine puts on both sides of one round.
 */
export function pairedRatios(subject: readonly number[], alternative: readonly number[]): Summary {
  const ratios: number[] = [];
  for (let index = 0; index < Math.min(subject.length, alternative.length); index++) {
    const a = subject[index] as number;
    const b = alternative[index] as number;
    if (Number.isFinite(a) && Number.isFinite(b) && b !== 0) ratios.push(a / b);
  }
  return summarize(ratios);
}
