import type { Redis } from 'ioredis';
import type { UserRegistry } from './broker.js';

/**
 * Drops members whose node is gone (its liveness key expired), so a crashed node's connections
 * stop counting against its users. Connection ids are `nodeId/localId`.
 */
const PURGE = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, member in ipairs(members) do
  local node = string.match(member, '^([^/]+)/')
  if node and redis.call('EXISTS', ARGV[1] .. node) == 0 then redis.call('ZREM', KEYS[1], member) end
end
`;

const COUNT = `${PURGE}
return redis.call('ZCARD', KEYS[1])
`;

/** Atomic check-and-add: refuse at the limit, or add and return the oldest beyond it. */
const ADD = `${PURGE}
local count = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[3])
if ARGV[4] == 'reject' and count >= max then return {0} end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[2])
local result = {1}
local excess = count + 1 - max
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  for _, member in ipairs(oldest) do
    redis.call('ZREM', KEYS[1], member)
    table.insert(result, member)
  end
end
return result
`;

/** Connections per user, cluster-wide, in Redis sorted sets ordered by arrival. */
export class RedisUserRegistry implements UserRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async count(routeKey: string, userId: string): Promise<number> {
    return Number(await this.redis.eval(COUNT, 1, this.key(routeKey, userId), this.nodePrefix()));
  }

  async add(
    routeKey: string,
    userId: string,
    connectionId: string,
    policy: { max: number; onExceed: 'reject' | 'replace-oldest' },
  ) {
    const result = (await this.redis.eval(
      ADD,
      2,
      this.key(routeKey, userId),
      `${this.prefix}:seq`,
      this.nodePrefix(),
      connectionId,
      String(policy.max),
      policy.onExceed,
    )) as Array<number | string>;
    return { admitted: result[0] === 1, replace: result.slice(1).map(String) };
  }

  async remove(routeKey: string, userId: string, connectionId: string): Promise<void> {
    await this.redis.zrem(this.key(routeKey, userId), connectionId);
  }

  private key(routeKey: string, userId: string): string {
    return `${this.prefix}:user:${routeKey}:${userId}`;
  }

  private nodePrefix(): string {
    return `${this.prefix}:node:`;
  }
}
