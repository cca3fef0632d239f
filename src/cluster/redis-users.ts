import type { Cluster, Redis } from 'ioredis';
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

/**
 * Atomic check-and-add on the set KEYS[1] with its sequence KEYS[2], given locals max, on_exceed
 * and member: refuse at the limit, or add and return the oldest beyond it.
 */
const ADMIT = `
local count = redis.call('ZCARD', KEYS[1])
if on_exceed == 'reject' and count >= max then return {0} end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), member)
local result = {1}
local excess = count + 1 - max
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  for _, old in ipairs(oldest) do
    redis.call('ZREM', KEYS[1], old)
    table.insert(result, old)
  end
end
return result
`;

/** One Redis: ARGV node-key prefix, connectionId, max, onExceed; the dead nodes' members are purged here. */
const ADD = `${PURGE}
local max, on_exceed, member = tonumber(ARGV[3]), ARGV[4], ARGV[2]
${ADMIT}`;

/** KEYS set, seq; ARGV max, onExceed, connectionId, then the members of dead nodes, to drop first. */
const ADD_CLUSTERED = `
for i = 4, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local max, on_exceed, member = tonumber(ARGV[1]), ARGV[2], ARGV[3]
${ADMIT}`;

/**
 * Connections per user, cluster-wide, in Redis sorted sets ordered by arrival. On one Redis the
 * scripts check the nodes' liveness keys themselves; on a Redis Cluster those keys live in other
 * slots than the user's set, which a script may not touch, so the dead nodes' members are found
 * first and handed to a script that touches the user's keys only (both under one hash tag).
 */
export class RedisUserRegistry implements UserRegistry {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly clustered = false,
  ) {}

  async count(routeKey: string, userId: string): Promise<number> {
    if (this.clustered) {
      const key = this.key(routeKey, userId);
      const dead = await this.deadMembers(key);
      if (dead.length > 0) await this.redis.zrem(key, ...dead);
      return this.redis.zcard(key);
    }
    return Number(await this.redis.eval(COUNT, 1, this.key(routeKey, userId), this.nodePrefix()));
  }

  async add(
    routeKey: string,
    userId: string,
    connectionId: string,
    policy: { max: number; onExceed: 'reject' | 'replace-oldest' },
  ) {
    const key = this.key(routeKey, userId);
    const result = (
      this.clustered
        ? await this.redis.eval(
            ADD_CLUSTERED,
            2,
            key,
            `${key}:seq`,
            String(policy.max),
            policy.onExceed,
            connectionId,
            ...(await this.deadMembers(key)),
          )
        : await this.redis.eval(
            ADD,
            2,
            key,
            `${this.prefix}:seq`,
            this.nodePrefix(),
            connectionId,
            String(policy.max),
            policy.onExceed,
          )
    ) as Array<number | string>;
    return { admitted: result[0] === 1, replace: result.slice(1).map(String) };
  }

  async remove(routeKey: string, userId: string, connectionId: string): Promise<void> {
    await this.redis.zrem(this.key(routeKey, userId), connectionId);
  }

  /** The members of `key` whose node's liveness key is gone. */
  private async deadMembers(key: string): Promise<string[]> {
    const members = await this.redis.zrange(key, '0', '-1');
    const nodes = [...new Set(members.map((member) => member.split('/')[0] ?? ''))];
    const alive = await Promise.all(nodes.map((node) => this.redis.exists(`${this.nodePrefix()}${node}`)));
    const dead = new Set(nodes.filter((_, index) => alive[index] === 0));
    return members.filter((member) => dead.has(member.split('/')[0] ?? ''));
  }

  private key(routeKey: string, userId: string): string {
    // Under a hash tag on a cluster, so that the set and its sequence share a slot.
    return this.clustered ? `${this.prefix}:user:{${routeKey}:${userId}}` : `${this.prefix}:user:${routeKey}:${userId}`;
  }

  private nodePrefix(): string {
    return `${this.prefix}:node:`;
  }
}
