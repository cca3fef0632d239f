/** What every section of the bench is given by bench/run.ts. */
import type { BenchChild } from './children.js';
import type { Config } from './config.js';
import type { RetryBudget } from './sections/session.js';

export interface Context {
  config: Config;
  /** The load process shared by the timed sections (pinned to its own core). */
  load: BenchChild;
  /** Progress, on stderr, so that `--json` keeps stdout clean. */
  log: (line: string) => void;
  /** How often, and for how long in all, disturbed windows may be measured again. */
  retries: RetryBudget;
  /** Which handshake client the load uses; see load/handshakes.ts. */
  handshakeClient: 'raw' | 'ws';
  /** Figures one section leaves for another's notes (the hub's CPU time per handshake, for routing). */
  shared: Record<string, number>;
}
