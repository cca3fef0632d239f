import { ClientError } from './errors.js';

/** What to do with a send that finds the queue full. */
export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'throw';

export interface QueueOptions {
  /** Messages kept while not connected. Default 1000. */
  max?: number;
  /** Default `'drop-oldest'`: the newest state of the app is usually what the server needs. */
  overflow?: OverflowPolicy;
  /** Told about every message the queue gives up on. */
  onDrop?: (data: unknown) => void;
}

export const DEFAULT_QUEUE_MAX = 1000;

/**
 * Holds sends made while the socket is not open, in order. Bounded, because an app that keeps
 * sending during a long outage would otherwise grow without limit and then flood the server.
 */
export class SendQueue<T> {
  private items: T[] = [];

  constructor(private readonly options: QueueOptions = {}) {}

  get size(): number {
    return this.items.length;
  }

  /** Returns false when `data` itself was dropped. */
  push(data: T): boolean {
    const max = this.options.max ?? DEFAULT_QUEUE_MAX;
    if (this.items.length < max) {
      this.items.push(data);
      return true;
    }
    const policy = this.options.overflow ?? 'drop-oldest';
    if (policy === 'throw') {
      throw new ClientError('ERR_QUEUE_FULL', `switchboard/client: send queue full (${max} messages) while not connected`);
    }
    if (policy === 'drop-newest' || max === 0) {
      this.options.onDrop?.(data);
      return false;
    }
    const dropped = this.items.shift();
    this.options.onDrop?.(dropped);
    this.items.push(data);
    return true;
  }

  /** Empties the queue, oldest first. */
  drain(): T[] {
    const items = this.items;
    this.items = [];
    return items;
  }
}
