/**
 * How much each section measures, for a full run (about ten minutes on 2 cores) and for
 * `--quick` (a smoke run for CI, well under a minute). Every count and every duration is bounded
 * here; nothing in the bench loops without one.
 */

export interface Config {
  mode: 'full' | 'quick';
  rounds: { handshake: number; echo: number; memory: number; guard: number; routing: number; fanout: number };
  handshake: { concurrency: number[]; warmupMs: number; measureMs: number; withLargeTable: boolean };
  echo: { connections: number; payloadBytes: number; warmupMs: number; measureMs: number };
  /**
   * Two servers side by side (the guard and metrics sections): both warmed up past V8's optimising,
   * then short handshake windows alternating between them (see bench/sections/paired-windows.ts).
   */
  paired: { warmupMs: number; windows: number; windowMs: number };
  memory: { counts: number[]; warmupConnections: number };
  routing: { sizes: number[]; iterations: number };
  fanout: {
    counts: number[];
    warmupMessages: number;
    messages: number;
    /** Message sizes, each measured on the same connections. */
    sizes: number[];
    crossNode: { clients: number; messages: number };
  };
  soak: { cycles: number; concurrency: number; timeLimitMs: number };
  ceiling: { max: number; loaders: number; timeBudgetMs: number; addressesPerLoader: number };
  /** A window disturbed by other processes is measured again: at most this often, for this long in all. */
  retries: { attempts: number; limitMs: number };
  /** The whole run is killed past this, children included. */
  hardLimitMs: number;
}

export const FULL: Config = {
  mode: 'full',
  rounds: { handshake: 3, echo: 5, memory: 3, guard: 3, routing: 5, fanout: 2 },
  handshake: { concurrency: [1, 64, 512], warmupMs: 700, measureMs: 2_000, withLargeTable: true },
  echo: { connections: 64, payloadBytes: 64, warmupMs: 800, measureMs: 3_000 },
  paired: { warmupMs: 6_000, windows: 14, windowMs: 600 },
  memory: { counts: [1_000, 10_000], warmupConnections: 500 },
  routing: { sizes: [1, 100, 1_000, 10_000], iterations: 100_000 },
  fanout: {
    counts: [1_000, 10_000],
    warmupMessages: 4,
    messages: 30,
    sizes: [64, 4_096],
    crossNode: { clients: 100, messages: 200 },
  },
  soak: { cycles: 100_000, concurrency: 50, timeLimitMs: 150_000 },
  ceiling: { max: 50_000, loaders: 3, timeBudgetMs: 60_000, addressesPerLoader: 50 },
  retries: { attempts: 3, limitMs: 60_000 },
  hardLimitMs: 14 * 60_000,
};

export const QUICK: Config = {
  mode: 'quick',
  rounds: { handshake: 1, echo: 1, memory: 1, guard: 1, routing: 2, fanout: 1 },
  handshake: { concurrency: [1, 64], warmupMs: 200, measureMs: 600, withLargeTable: false },
  echo: { connections: 16, payloadBytes: 64, warmupMs: 200, measureMs: 600 },
  paired: { warmupMs: 800, windows: 3, windowMs: 300 },
  memory: { counts: [300], warmupConnections: 100 },
  routing: { sizes: [1, 100, 10_000], iterations: 30_000 },
  fanout: { counts: [300], warmupMessages: 2, messages: 10, sizes: [64, 4_096], crossNode: { clients: 20, messages: 20 } },
  soak: { cycles: 2_000, concurrency: 20, timeLimitMs: 20_000 },
  ceiling: { max: 2_000, loaders: 2, timeBudgetMs: 8_000, addressesPerLoader: 4 },
  retries: { attempts: 1, limitMs: 0 },
  hardLimitMs: 80_000,
};
