import { ClientError } from './errors.js';
import { requestFrame } from './recovery-protocol.js';

export interface RequestOptions {
  /** Rejects with `ERR_REQUEST_TIMEOUT` when no answer came by then, connected or not. Default 10 s. */
  timeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Answers remembered after they settled, so that a duplicate (the answer to a resend) is recognized. */
const ANSWERED_KEPT = 256;

/** What a request settles with, in a form that crosses tabs (structured clone keeps no error class). */
export type Settled = { data: unknown } | { error: { code: string; message: string } };

/** A request on its way: the frame for a socket, the parts for a tab or worker that holds the socket. */
export interface OutgoingRequest {
  id: string;
  event: string;
  data: unknown;
  timeoutMs: number;
  frame: string;
}

interface Pending {
  request: OutgoingRequest;
  promise: Promise<unknown>;
  settle: (outcome: Settled) => void;
}

/** A random prefix per client plus a counter: unique across clients without a round of randomness per request. */
function newPrefix(): string {
  const bytes = new Uint8Array(9);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let index = 0; index < bytes.length; index++) bytes[index] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function validTimeout(options: RequestOptions | undefined): number {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new ClientError(
      'ERR_CLIENT_OPTIONS',
      `switchboard/client: request timeoutMs must be a positive number of ms, got ${String(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

export function toError(outcome: { code: string; message: string }): ClientError {
  return new ClientError(outcome.code, outcome.message);
}

/**
 * Requests waiting for their answer. Each keeps its frame, so that after a reconnect it goes again
 * with the same id: the server answers a duplicate from its record instead of running the handler twice.
 */
export class Requests {
  private readonly pending = new Map<string, Pending>();
  private readonly answered: string[] = [];
  private readonly prefix = newPrefix();
  private sequence = 0;

  /** `transmit` sends a request now and says whether it could; if not, `flush` sends it later. */
  constructor(private readonly transmit: (request: OutgoingRequest) => boolean) {}

  get size(): number {
    return this.pending.size;
  }

  newId(): string {
    return `${this.prefix}${(++this.sequence).toString(36)}`;
  }

  /** Settles with the answer's data, or an error answer, or a timeout. An id already pending joins it. */
  start(id: string, event: string, data: unknown, timeoutMs: number): Promise<unknown> {
    const existing = this.pending.get(id);
    if (existing) return existing.promise;
    const request: OutgoingRequest = { id, event, data, timeoutMs, frame: requestFrame(id, event, data) };
    let settle!: (outcome: Settled) => void;
    const promise = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          settle({
            error: {
              code: 'ERR_REQUEST_TIMEOUT',
              message: `switchboard/client: request ${JSON.stringify(event)} got no answer in ${timeoutMs} ms`,
            },
          }),
        timeoutMs,
      );
      settle = (outcome) => {
        if (this.pending.get(id)?.promise !== promise) return;
        clearTimeout(timer);
        this.pending.delete(id);
        this.remember(id);
        if ('error' in outcome) reject(toError(outcome.error));
        else resolve(outcome.data);
      };
    });
    this.pending.set(id, { request, promise, settle });
    this.transmit(request);
    return promise;
  }

  /** A new socket is open: every request still unanswered goes (again), oldest first. */
  flush(): void {
    for (const pending of [...this.pending.values()]) if (!this.transmit(pending.request)) return;
  }

  /**
   * A `res` frame: settles its request. Returns false when the id is not one of ours at all, so
   * that on a route without recovery the frame is the app's and goes to its subscribers.
   */
  answer(frame: { [key: string]: unknown }): boolean {
    const id = frame.id;
    if (typeof id !== 'string') return false;
    const pending = this.pending.get(id);
    if (!pending) return this.answered.includes(id);
    const error = frame.error as { code?: unknown; message?: unknown } | undefined;
    if (error !== undefined && error !== null) {
      pending.settle({
        error: {
          code: typeof error.code === 'string' ? error.code : 'ERR_REQUEST_FAILED',
          message: typeof error.message === 'string' ? error.message : 'the server answered the request with an error',
        },
      });
    } else {
      pending.settle({ data: frame.data });
    }
    return true;
  }

  /** An outcome relayed from the tab or worker that holds the socket; ignored for an id not pending here. */
  settle(id: string, outcome: Settled): void {
    this.pending.get(id)?.settle(outcome);
  }

  /** The connection is closed for good: nothing will answer. */
  failAll(code: string, message: string): void {
    for (const pending of [...this.pending.values()]) pending.settle({ error: { code, message } });
  }

  private remember(id: string): void {
    this.answered.push(id);
    if (this.answered.length > ANSWERED_KEPT) this.answered.shift();
  }
}

/** Runs a relayed request on the connection that holds the socket, as an outcome that can be posted to a tab. */
export function settleAs(run: () => Promise<unknown>): Promise<Settled> {
  let promise: Promise<unknown>;
  try {
    promise = run();
  } catch (error) {
    promise = Promise.reject(error);
  }
  return promise.then(
    (data) => ({ data }),
    (error: unknown) => ({
      error: {
        code: error instanceof ClientError ? error.code : 'ERR_REQUEST_FAILED',
        message: error instanceof Error ? error.message : String(error),
      },
    }),
  );
}
