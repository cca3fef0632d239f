import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Answer } from './wire.js';

/**
 * The cluster's record of request answers, so that a request sent again to another node after a
 * reconnect does not run its handler a second time: the first node to claim an id runs it and
 * settles the answer; any other waits for that answer. A claim is a lease its run renews: a node
 * that dies or stops inside the handler stops renewing, and once the lease has run out the next
 * node the request reaches takes the claim over and runs the handler again (`takeover`).
 */
export interface AnswerRecord {
  /** This node runs the handler (and settles the claim), or the answer it is to give instead. */
  claim(key: string): Promise<RunClaim | AnswerInstead>;
}

/** An id this node claimed: it runs the handler while the claim's lease is renewed, then settles. */
export interface RunClaim {
  /** Another run of the id started before and never settled (its node died or stopped): this one took its claim over. */
  takeover: boolean;
  /** Aborted once a renewal finds the claim taken over by another run. */
  signal: AbortSignal;
  /**
   * Records `answer` if the claim is still this run's (or nobody else's live claim); else waits for
   * the answer of the run that took it over. Resolves to the answer the client is to get: the
   * recorded one. Stops renewing the lease.
   */
  settle(answer: Answer): Promise<Answer>;
}

/** `recorded`: the answer of a run of the id (this node runs nothing); else the run elsewhere is still going. */
export interface AnswerInstead {
  answer: Answer;
  recorded: boolean;
}

/**
 * How long a claim holds without being renewed. Short, so that a request whose node died inside
 * the handler is run again within seconds of a resend rather than minutes; ten times longer than
 * any event-loop stall a healthy node should have, since a run that misses its renewals for that
 * long can be run a second time elsewhere. Renewed every third of it, so that one renewal lost to
 * a Redis hiccup costs nothing.
 */
export const CLAIM_LEASE_MS = 10_000;
const RENEW_MS = Math.round(CLAIM_LEASE_MS / 3);

/** How often a node waiting for another node's answer looks again, and for how long at most. */
const POLL_MS = 50;
const WAIT_MS = 30_000;

const PENDING: Answer = {
  error: { code: 'ERR_REQUEST_PENDING', message: 'the request is still being handled on another node; send it again' },
};

/**
 * A claim is `pending:<token>:<end of lease, Redis clock ms>`; the answer (JSON) replaces it. Both
 * are kept as long as answers are, so a resend long after a run died still finds that it ran.
 * `pending` alone is a claim of an older version, without a lease: waited for.
 */
const LEASE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function claim()
  redis.call('SET', KEYS[1], 'pending:' .. ARGV[1] .. ':' .. string.format('%.0f', now + tonumber(ARGV[2])), 'PX', ARGV[3])
end
local function holder(value)
  return string.match(value, '^pending:([^:]+):(%d+)$')
end
`;

/** ARGV token, lease, kept. `run`, `takeover` (a lease ran out), `wait` (a live claim), or the answer. */
const CLAIM = `${LEASE}
local value = redis.call('GET', KEYS[1])
if not value then
  claim()
  return 'run'
end
if value == 'pending' then return 'wait' end
local token, ends = holder(value)
if not token then return value end
if tonumber(ends) > now then return 'wait' end
claim()
return 'takeover'
`;

/** ARGV token, lease, kept. 1: renewed (claimed again if the record was lost); 0: another run's, or answered. */
const RENEW = `${LEASE}
local value = redis.call('GET', KEYS[1])
if value and holder(value) ~= ARGV[1] then return 0 end
claim()
return 1
`;

/** ARGV token, answer, kept. `ok`: recorded; `wait`: another run holds a live claim; else the recorded answer. */
const SETTLE = `${LEASE}
local value = redis.call('GET', KEYS[1])
if value then
  if value == 'pending' then return 'wait' end
  local token, ends = holder(value)
  if not token then return value end
  if token ~= ARGV[1] and tonumber(ends) > now then return 'wait' end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 'ok'
`;

type Scripted = (Redis | Cluster) & {
  switchboardClaim(key: string, token: string, leaseMs: number, keptMs: number): Promise<string>;
  switchboardRenew(key: string, token: string, leaseMs: number, keptMs: number): Promise<number>;
  switchboardSettle(key: string, token: string, answer: string, keptMs: number): Promise<string>;
};

/** In Redis: a script claims an id with a lease, renewals extend it, the answer replaces it. */
export class RedisAnswerRecord implements AnswerRecord {
  private readonly redis: Scripted;

  constructor(
    redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly keptMs: number,
  ) {
    this.redis = redis as Scripted;
    if (typeof this.redis.switchboardClaim !== 'function') {
      redis.defineCommand('switchboardClaim', { numberOfKeys: 1, lua: CLAIM });
      redis.defineCommand('switchboardRenew', { numberOfKeys: 1, lua: RENEW });
      redis.defineCommand('switchboardSettle', { numberOfKeys: 1, lua: SETTLE });
    }
  }

  async claim(key: string): Promise<RunClaim | AnswerInstead> {
    const name = this.name(key);
    const token = randomBytes(12).toString('base64url');
    const waitUntil = Date.now() + WAIT_MS;
    let waited = false;
    for (;;) {
      const result = await this.redis.switchboardClaim(name, token, CLAIM_LEASE_MS, this.keptMs);
      // Claimed after waiting on a claim that then vanished (the record lost): that run may have gone on.
      if (result === 'run' || result === 'takeover') return this.running(name, token, result === 'takeover' || waited);
      if (result !== 'wait') return { answer: JSON.parse(result) as Answer, recorded: true };
      if (Date.now() > waitUntil) return { answer: PENDING, recorded: false };
      waited = true;
      await delay(POLL_MS);
    }
  }

  private running(name: string, token: string, takeover: boolean): RunClaim {
    const controller = new AbortController();
    let renewing = true;
    let timer: NodeJS.Timeout | undefined;
    const renew = async () => {
      try {
        const ours = await this.redis.switchboardRenew(name, token, CLAIM_LEASE_MS, this.keptMs);
        if (ours === 0 && renewing) {
          renewing = false;
          controller.abort(
            Object.assign(new Error('the request was taken over by another run after this one missed its lease'), {
              code: 'ERR_REQUEST_TAKEN_OVER',
            }),
          );
        }
      } catch {
        // Redis away: the lease may run out meanwhile; the next renewal that gets through tells.
      }
      if (renewing) schedule();
    };
    const schedule = () => {
      timer = setTimeout(renew, RENEW_MS);
      timer.unref();
    };
    schedule();
    return {
      takeover,
      signal: controller.signal,
      settle: async (answer) => {
        renewing = false;
        clearTimeout(timer);
        const text = JSON.stringify(answer);
        const waitUntil = Date.now() + WAIT_MS;
        for (;;) {
          const result = await this.redis.switchboardSettle(name, token, text, this.keptMs);
          if (result === 'ok') return answer;
          // Another run holds the claim now: the client gets that run's answer, never a second one.
          if (result !== 'wait') return JSON.parse(result) as Answer;
          if (Date.now() > waitUntil) return PENDING;
          await delay(POLL_MS);
        }
      },
    };
  }

  private name(key: string): string {
    return `${this.prefix}:answer:${Buffer.from(key).toString('base64url')}`;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
