/**
 * Two servers measured side by side: both running at once, both warmed up first, then short
 * handshake windows alternating between them. On a shared machine the speed of one server drifts
 * by ±10 % from one window to the next; pairing neighbouring windows puts that drift on both
 * sides of each ratio. The warm-up goes past V8's optimising (a server pinned to one core is
 * billed for its compiling, which is start-up work, not the cost of a handshake).
 */
import type { Context } from '../context.js';
import type { HandshakeResult } from '../load/handshakes.js';
import { num, type Target } from '../report.js';
import { pairedRatios, quantileSorted, type Summary } from '../stats.js';
import { leastDisturbed, type RunningServer, rotate, timedJob } from './session.js';

export interface HandshakeWindow {
  handshakesPerSecond: number;
  handshakeP99: number;
  cpuUsPerHandshake: number;
  foreign: number;
}

export interface WindowPlan {
  warmupMs: number;
  windows: number;
  windowMs: number;
  concurrency: number;
}

export async function pairedHandshakeWindows<Mode extends string>(
  context: Context,
  label: string,
  servers: Record<Mode, RunningServer>,
  plan: WindowPlan,
): Promise<Record<Mode, HandshakeWindow[]>> {
  const modes = Object.keys(servers) as Mode[];
  const windows = Object.fromEntries(modes.map((mode) => [mode, [] as HandshakeWindow[]])) as Record<Mode, HandshakeWindow[]>;
  const handshakes = (mode: Mode, warmupMs: number, measureMs: number) =>
    leastDisturbed(
      () =>
        timedJob<HandshakeResult>(servers[mode], context.load, 'handshake', {
          url: servers[mode].wsUrl,
          concurrency: plan.concurrency,
          warmupMs,
          measureMs,
          client: context.handshakeClient,
        }),
      context.retries,
    );
  for (const mode of modes) {
    const warm = await handshakes(mode, plan.warmupMs, 200);
    context.log(`${label} warm-up ${mode}: ${num(warm.result.handshakes)} handshakes measured after ${plan.warmupMs} ms`);
  }
  for (let index = 0; index < plan.windows; index++) {
    for (const mode of rotate(modes, index)) {
      const timed = await handshakes(mode, 100, plan.windowMs);
      windows[mode].push({
        handshakesPerSecond: timed.result.perSecond,
        handshakeP99: timed.result.p99,
        cpuUsPerHandshake: timed.serverCpuUs / timed.result.handshakes,
        foreign: timed.foreign,
      });
    }
    context.log(
      `${label} window ${index + 1}: CPU µs per handshake ` +
        modes.map((mode) => `${num(windows[mode][index]?.cpuUsPerHandshake ?? Number.NaN)} ${mode}`).join(', '),
    );
  }
  return windows;
}

/** Subject ÷ baseline over paired windows: the median (min–max), and the middle half of the ratios. */
export function windowRatios(subject: readonly number[], baseline: readonly number[]): { ratio: Summary; middleHalf: string } {
  const sorted = subject
    .map((value, index) => value / (baseline[index] ?? Number.NaN))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return {
    ratio: pairedRatios(subject, baseline),
    middleHalf: `${quantileSorted(sorted, 0.25).toFixed(2)}–${quantileSorted(sorted, 0.75).toFixed(2)}`,
  };
}

/** A target that a ratio's median must not exceed; `see` says where a miss is explained. */
export function atMostTarget(name: string, wanted: string, limit: number, ratio: Summary, measured: string, see: string): Target {
  const met = ratio.n === 0 ? undefined : ratio.median <= limit;
  return {
    name,
    wanted,
    measured,
    met,
    note: met === false ? `over by ${((ratio.median - limit) * 100).toFixed(1)} points (${see})` : undefined,
  };
}
