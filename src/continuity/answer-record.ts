import type { Cluster, Redis } from 'ioredis';
import type { Answer } from './wire.js';

/**
 * The cluster's record of request answers, so that a request sent again to another node after a
 * reconnect does not run its handler a second time: the first node to claim an id runs it and
 * settles the answer; any other waits for that answer.
 */
export interface AnswerRecord {
  /** `'run'`: this node runs the handler (and settles); else the answer of the run elsewhere (waited for while pending). */
  claim(key: string): Promise<'run' | Answer>;
  settle(key: string, answer: Answer): Promise<void>;
}

/** How often a node waiting for another node's answer looks again, and for how long at most. */
const POLL_MS = 50;
const WAIT_MS = 30_000;

/** In Redis: `SET NX` claims an id, the answer replaces the claim; both expire with the record. */
export class RedisAnswerRecord implements AnswerRecord {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly keptMs: number,
  ) {}

  async claim(key: string): Promise<'run' | Answer> {
    const name = this.name(key);
    const claimed = await this.redis.set(name, 'pending', 'PX', this.keptMs, 'NX');
    if (claimed === 'OK') return 'run';
    const waitUntil = Date.now() + WAIT_MS;
    for (;;) {
      const value = await this.redis.get(name);
      // Gone (expired, or the running node died before it settled): this node runs it.
      if (value === null)
        return (await this.redis.set(name, 'pending', 'PX', this.keptMs, 'NX')) === 'OK' ? 'run' : this.claim(key);
      if (value !== 'pending') return JSON.parse(value) as Answer;
      if (Date.now() > waitUntil) {
        return {
          error: { code: 'ERR_REQUEST_PENDING', message: 'the request is still being handled on another node; send it again' },
        };
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async settle(key: string, answer: Answer): Promise<void> {
    await this.redis.set(this.name(key), JSON.stringify(answer), 'PX', this.keptMs);
  }

  private name(key: string): string {
    return `${this.prefix}:answer:${Buffer.from(key).toString('base64url')}`;
  }
}
