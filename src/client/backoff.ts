/** How long to wait before each reconnection attempt. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry; doubles with each further one. Default 500 ms. */
  baseDelayMs?: number;
  /** The ceiling never grows past this. Default 30 s. */
  maxDelayMs?: number;
}

export const DEFAULT_BASE_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 30_000;

/** The upper bound of the wait before retry `attempt` (1 for the first retry). */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  // Capping the exponent keeps 2 ** n finite however long a client has been retrying.
  return Math.min(max, base * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
}

/**
 * Full jitter: anywhere between 0 and the ceiling. Clients that lost the same server at the same
 * moment then spread their retries over the whole window instead of arriving together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}
