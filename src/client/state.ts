export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A snapshot: a new object on every change, so `===` tells whether anything changed. */
export interface ConnectionState {
  readonly status: ConnectionStatus;
  /** Retries since the last stable connection (0 before the first retry). */
  readonly attempt: number;
  /** Code of the last close, if any. 1006 when the connection was lost without a close frame. */
  readonly lastCloseCode: number | undefined;
  readonly lastCloseReason: string | undefined;
  /** While waiting to retry: the wait that was drawn, in ms. */
  readonly retryInMs: number | undefined;
}

export type StateListener = (state: ConnectionState) => void;

export const INITIAL_STATE: ConnectionState = {
  status: 'connecting',
  attempt: 0,
  lastCloseCode: undefined,
  lastCloseReason: undefined,
  retryInMs: undefined,
};

/** The observable behind `conn.state`, shaped for React's `useSyncExternalStore`. */
export class StateStore {
  private current: ConnectionState = INITIAL_STATE;
  private readonly listeners = new Set<StateListener>();

  constructor(private readonly report: (error: unknown) => void) {}

  get(): ConnectionState {
    return this.current;
  }

  set(patch: Partial<ConnectionState>): void {
    const next = { ...this.current, ...patch };
    const same = (Object.keys(next) as Array<keyof ConnectionState>).every((key) => next[key] === this.current[key]);
    if (same) return;
    this.current = next;
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch (error) {
        this.report(error);
      }
    }
  }

  subscribe(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
