import type { Cluster, Redis } from 'ioredis';
import { event } from './memory-presence.js';
import type { PresenceEntry, PresenceMember, PresenceStore, Transition } from './presence-store.js';

/*
 * Per room, three hashes under one hash tag (the room), so that each script touches one slot of
 * a Redis Cluster:
 *   <room>:u  userId → the user's connections in the room, all nodes (presence() and its count)
 *   <room>:t  userId → tenantId
 *   <room>:n  "<nodeId>\t<userId>" → that node's share of them (what is taken away when it dies)
 * Per node, a set of the [room, userId] it holds something of, so that reaping a dead node reads
 * what it held and nothing else: no scan of the keyspace, ever.
 */

/**
 * The room's next transition version: microseconds of the Redis clock, and past the room's last
 * one, so versions keep growing across a Redis restart (which forgets the last) and within a
 * microsecond. Kept a day: no announcement is on its way that long.
 */
const NEXT_VERSION = `
local function next_version(key)
  local clock = redis.call('TIME')
  local version = math.max(tonumber(clock[1]) * 1000000 + tonumber(clock[2]), tonumber(redis.call('GET', key) or '0') + 1)
  redis.call('SET', key, string.format('%.0f', version), 'PX', 86400000)
  return version
end
`;

/**
 * KEYS n, u, t, s; ARGV field, userId, delta, tenantId. Returns { 1, version, tenantId } for a
 * join, { 2, version, tenantId } for a leave, { 0 } otherwise; `s` holds the room's last version.
 */
const CHANGE = `${NEXT_VERSION}
local delta = tonumber(ARGV[3])
local here = redis.call('HINCRBY', KEYS[1], ARGV[1], delta)
if here < 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return {0}
end
if here == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[2], delta)
if total <= 0 then
  local tenant = redis.call('HGET', KEYS[3], ARGV[2]) or ''
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return {2, next_version(KEYS[4]), tenant}
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4]) end
if total == 1 and delta > 0 then return {1, next_version(KEYS[4]), ARGV[4]} end
return {0}
`;

/**
 * KEYS n, u, t, s; ARGV field, userId, count, tenantId: sets this node's share. Returns
 * { 2, version, tenantId } when that made the user leave, { 0 } otherwise (a join it makes is not
 * announced: it restores what was there).
 */
const SET = `${NEXT_VERSION}
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local count = tonumber(ARGV[3])
if count == old then return {0} end
if count == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], count) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[2], count - old)
if total <= 0 then
  local tenant = redis.call('HGET', KEYS[3], ARGV[2]) or ''
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  if count == 0 then return {2, next_version(KEYS[4]), tenant} end
  return {0}
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4]) end
if old == 0 then next_version(KEYS[4]) end
return {0}
`;

/** How often each node looks for dead nodes; with the 15 s liveness key, a dead node is reaped within 20 s. */
export const REAP_INTERVAL_MS = 5_000;

export class RedisPresence implements PresenceStore {
  private readonly orphaned: Array<(events: Transition[]) => void> = [];
  private readonly timer: NodeJS.Timeout;
  private registered = false;
  private closed = false;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly nodeId: string,
    /** Renews this node's liveness key (the per-user policy's); its expiry is how a dead node is told. */
    private readonly alive: () => Promise<unknown>,
  ) {
    this.timer = setInterval(() => {
      this.reap().catch(() => {});
    }, REAP_INTERVAL_MS);
    this.timer.unref();
  }

  async change(room: string, userId: string, tenantId: string | undefined, delta: 1 | -1, here: number) {
    // Not awaited: commands go out in order on the one connection, so a read sent after this change sees it.
    this.register().catch(() => {});
    // The node's index is written before its first share and cleared after its last, so that a
    // node dying in between leaves at worst an index entry with nothing behind it.
    const member = JSON.stringify([room, userId]);
    if (delta > 0 && here === 1) this.redis.sadd(this.index(this.nodeId), member).catch(() => {});
    const result = (await this.redis.eval(
      CHANGE,
      4,
      ...this.keys(room),
      this.field(userId),
      userId,
      String(delta),
      tenantId ?? '',
    )) as [number, number?, string?];
    if (here === 0) this.redis.srem(this.index(this.nodeId), member).catch(() => {});
    return transition(room, userId, result);
  }

  async members(room: string): Promise<PresenceMember[]> {
    const [, users, tenants] = this.keys(room);
    const [counts, tenantOf] = await Promise.all([this.redis.hgetall(users), this.redis.hgetall(tenants)]);
    const members: PresenceMember[] = [];
    for (const [userId, count] of Object.entries(counts)) {
      const connections = Number(count);
      if (!(connections > 0)) continue;
      const tenantId = tenantOf[userId];
      members.push(tenantId === undefined ? { userId, connections } : { userId, tenantId, connections });
    }
    return members;
  }

  async count(room: string): Promise<number> {
    return this.redis.hlen(this.keys(room)[1]);
  }

  async restore(entries: PresenceEntry[]): Promise<Transition[]> {
    // Alive first: a node listed with no liveness key would be reaped by the others.
    await this.alive();
    this.registered = false;
    await this.register();
    const index = this.index(this.nodeId);
    const wanted = new Map(entries.map((entry) => [JSON.stringify([entry.room, entry.userId]), entry]));
    const left: Transition[] = [];
    for (const member of await this.redis.smembers(index)) {
      if (wanted.has(member)) continue;
      const [room, userId] = JSON.parse(member) as [string, string];
      const gone = await this.set(this.nodeId, room, userId, undefined, 0);
      if (gone) left.push(gone);
      await this.redis.srem(index, member);
    }
    for (const [member, { room, userId, tenantId, connections }] of wanted) {
      await this.redis.sadd(index, member);
      await this.set(this.nodeId, room, userId, tenantId, connections);
    }
    return left;
  }

  onOrphaned(listener: (events: Transition[]) => void): void {
    this.orphaned.push(listener);
  }

  /** Stops looking for dead nodes (the broker link closes). */
  stop(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  async close(): Promise<Transition[]> {
    this.stop();
    const left = await this.takeAway(this.nodeId);
    await this.redis.srem(this.nodesKey(), this.nodeId);
    return left;
  }

  /**
   * Finds the nodes whose liveness key expired and takes their share away. Several nodes may look
   * at once: the one whose SREM removes the node from the list does the work.
   */
  async reap(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    const nodes = await this.redis.smembers(this.nodesKey());
    const others = nodes.filter((node) => node !== this.nodeId);
    if (!nodes.includes(this.nodeId) && this.registered) {
      // Taken for dead (a long pause, a Redis restart): the hub writes its share again.
      this.registered = false;
      for (const listener of this.orphaned) listener([]);
    }
    if (others.length === 0) return;
    // One EXISTS each, not a pipeline: on a cluster the keys live in different slots.
    const exists = await Promise.all(others.map((node) => this.redis.exists(`${this.prefix}:node:${node}`)));
    for (const [i, node] of others.entries()) {
      if (exists[i] !== 0) continue;
      if ((await this.redis.srem(this.nodesKey(), node)) !== 1) continue;
      const left = await this.takeAway(node);
      if (left.length > 0) for (const listener of this.orphaned) listener(left);
    }
  }

  /** Removes a node's share of every room it held, returning the leaves that made. */
  private async takeAway(node: string): Promise<Transition[]> {
    const index = this.index(node);
    const left: Transition[] = [];
    for (const member of await this.redis.smembers(index)) {
      const [room, userId] = JSON.parse(member) as [string, string];
      const gone = await this.set(node, room, userId, undefined, 0);
      if (gone) left.push(gone);
    }
    await this.redis.del(index);
    return left;
  }

  /** Sets a node's share of a user in a room; the leave, when that made the user leave. */
  private async set(
    node: string,
    room: string,
    userId: string,
    tenantId: string | undefined,
    count: number,
  ): Promise<Transition | undefined> {
    const result = (await this.redis.eval(
      SET,
      4,
      ...this.keys(room),
      `${node}\t${userId}`,
      userId,
      String(count),
      tenantId ?? '',
    )) as [number, number?, string?];
    return transition(room, userId, result);
  }

  private async register(): Promise<void> {
    if (this.registered) return;
    this.registered = true;
    await this.redis.sadd(this.nodesKey(), this.nodeId);
  }

  private keys(room: string): [string, string, string, string] {
    const tag = `${this.prefix}:presence:{${room}}`;
    return [`${tag}:n`, `${tag}:u`, `${tag}:t`, `${tag}:s`];
  }

  private field(userId: string): string {
    return `${this.nodeId}\t${userId}`;
  }

  private index(node: string): string {
    return `${this.prefix}:presence:node:{${node}}`;
  }

  private nodesKey(): string {
    return `${this.prefix}:presence:nodes`;
  }
}

/** A script's `{ code, version, tenantId }` as a transition: 1 join, 2 leave, 0 none. */
function transition(room: string, userId: string, [code, version, tenant]: [number, number?, string?]): Transition | undefined {
  if (code !== 1 && code !== 2) return undefined;
  const tenantId = tenant === undefined || tenant === '' ? undefined : tenant;
  return { ...event(room, userId, tenantId, code === 1 ? 'join' : 'leave'), version: Number(version) };
}
