import type { Cluster, Redis } from 'ioredis';
import { event } from './memory-presence.js';
import type { HeldPresence, PresenceMember, PresenceStore, Transition } from './presence-store.js';

/*
 * Per room, three hashes under one hash tag (the room), so that each script touches one slot of
 * a Redis Cluster:
 *   <room>:u  userId → the user's connections in the room, all nodes (presence() and its count)
 *   <room>:t  userId → tenantId
 *   <room>:n  "<nodeId>\t<userId>" → that node's share of them (what is taken away when it dies)
 * Per node, a set of the [room, userId] it holds something of, so that reaping a dead node reads
 * what it held and nothing else: no scan of the keyspace, ever. Its size is also how a node tells,
 * with one SCARD, that some of its share was lost (taken away while it was paused, forgotten by
 * a restarted Redis, a write lost with its connection) and writes it again.
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
 * KEYS n, u, t, s; ARGV field, userId, count, tenantId: sets a node's share of a user in a room to
 * `count`. Returns { 1, version, tenantId } when that made the user join (the room had none of
 * them), { 2, version, tenantId } when it made them leave, { 0 } otherwise; `s` holds the room's
 * last version. A share, not a difference: a write that arrives twice (ioredis sends again what
 * was unanswered when its connection broke) counts once.
 */
const SET = `${NEXT_VERSION}
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local count = tonumber(ARGV[3])
if count == old then return {0} end
if count == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], count) end
local before = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
local total = math.max(before + count - old, count)
if total <= 0 then
  local tenant = redis.call('HGET', KEYS[3], ARGV[2]) or ''
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  if before > 0 then return {2, next_version(KEYS[4]), tenant} end
  return {0}
end
redis.call('HSET', KEYS[2], ARGV[2], total)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4]) end
if before <= 0 then return {1, next_version(KEYS[4]), redis.call('HGET', KEYS[3], ARGV[2]) or ''} end
return {0}
`;

/** How many rooms and users a restore writes at once. */
const RESTORE_BATCH = 500;

/**
 * How long the index keeps a room and user the node's last connection left. A leave Redis
 * acknowledged can still be lost, when its master dies before its replica has it and the replica
 * takes over: while the index lists it, a rewrite of the node's share (after the failover is
 * seen) or the reap of the node (if it died meanwhile) writes the leave again.
 */
export const LEAVES_INDEXED_MS = 60_000;

/** How often each node looks for dead nodes; with the 15 s liveness key, a dead node is reaped within 20 s. */
export const REAP_INTERVAL_MS = 5_000;

export class RedisPresence implements PresenceStore {
  private readonly orphaned: Array<(events: Transition[]) => void> = [];
  private readonly timer: NodeJS.Timeout;
  private held: HeldPresence | undefined;
  private lost: () => void = () => {};
  private registered = false;
  /** Restores under way: the index is being written, so it is not checked meanwhile. */
  private restoring = 0;
  private closed = false;
  /** Index entries of rooms and users this node left, by when (kept LEAVES_INDEXED_MS), oldest first. */
  private readonly lingering = new Map<string, number>();
  /** The masters' replication ids at the last look: a new one means a replica took over (or Redis restarted). */
  private writers: string | undefined;

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
    return this.write(room, userId, tenantId, here, delta > 0 && here === 1);
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

  hold(held: HeldPresence, lost: () => void): void {
    this.held = held;
    this.lost = lost;
  }

  async restore(): Promise<Transition[]> {
    const held = this.held;
    if (!held) return [];
    this.restoring++;
    try {
      // Alive first: a node listed with no liveness key would be reaped by the others.
      await this.alive();
      this.registered = false;
      await this.register();
      // What it holds, and what its index says it had written (connections that closed meanwhile).
      const keys = new Map<string, [string, string]>();
      for (const [room, userId] of held.keys()) keys.set(JSON.stringify([room, userId]), [room, userId]);
      for (const member of await this.redis.smembers(this.index(this.nodeId))) {
        if (!keys.has(member)) keys.set(member, JSON.parse(member) as [string, string]);
      }
      const all = [...keys.values()];
      const made: Transition[] = [];
      for (let start = 0; start < all.length; start += RESTORE_BATCH) {
        // Each share as the node holds it when its write is sent: a change made before went out
        // before it (and is written over with what includes it), one made after goes out after it.
        const writes = all.slice(start, start + RESTORE_BATCH).map(([room, userId]) => {
          const { connections, tenantId } = held.now(room, userId);
          return this.write(room, userId, tenantId, connections, true);
        });
        for (const transition of await Promise.all(writes)) if (transition) made.push(transition);
      }
      return made;
    } finally {
      this.restoring--;
    }
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
    // Its own index holds one entry per room and user it has connections of, or left lately:
    // counted at the moment the SCARD is sent, as every change sends its index write at once.
    this.forgetOldLeaves();
    const check = this.registered && this.restoring === 0;
    const expected = (this.held?.size() ?? 0) + this.lingering.size;
    const [nodes, indexed] = await Promise.all([
      this.redis.smembers(this.nodesKey()),
      check ? this.redis.scard(this.index(this.nodeId)) : undefined,
    ]);
    const others = nodes.filter((node) => node !== this.nodeId);
    const newWriter = await this.writersChanged();
    if (this.registered && (!nodes.includes(this.nodeId) || (check && indexed !== expected) || newWriter)) {
      // Taken for dead (a long pause: its share was taken away, maybe while it wrote it again), a
      // Redis restart, a write lost with its connection, a failover that may have lost the last
      // writes the old master acknowledged: the hub writes its share again.
      this.registered = false;
      this.lost();
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

  /**
   * Whether a master's replication id changed since the last look (the first look, when the node
   * registers, sets what the next ones compare with). A promoted replica and a restarted Redis have
   * a new one; a failover under way, when a master cannot be asked, is seen at a later look.
   */
  private async writersChanged(): Promise<boolean> {
    const redis = this.redis;
    const masters = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis];
    let writers: string;
    try {
      const ids = await Promise.all(
        masters.map(async (master) => /master_replid:(\w+)/.exec(await master.info('replication'))?.[1] ?? ''),
      );
      writers = ids.sort().join(',');
    } catch {
      return false;
    }
    const changed = this.writers !== undefined && writers !== this.writers;
    this.writers = writers;
    return changed;
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

  /**
   * Sets this node's share of a user in a room, with its index entry: added before, all sent at
   * once, so that a later change's index write goes out after these. A share of 0 keeps its entry
   * for LEAVES_INDEXED_MS (see there). A node dying in between leaves at worst an index entry with
   * nothing behind it.
   */
  private write(
    room: string,
    userId: string,
    tenantId: string | undefined,
    count: number,
    index: boolean,
  ): Promise<Transition | undefined> {
    const member = JSON.stringify([room, userId]);
    if (count > 0) this.lingering.delete(member);
    else {
      // Listed again at the end: the oldest first, for forgetOldLeaves.
      this.lingering.delete(member);
      this.lingering.set(member, Date.now());
    }
    if (!(index || count === 0)) return this.set(this.nodeId, room, userId, tenantId, count);
    const indexed = this.redis.sadd(this.index(this.nodeId), member);
    if (count === 0 || !('nodes' in this.redis)) {
      indexed.catch(() => {});
      return this.set(this.nodeId, room, userId, tenantId, count);
    }
    // On a cluster the index and the room are on different shards: a share whose index entry a
    // failover lost would outlive this node, since the reaper finds a dead node's shares through
    // its index. So the share goes out once its entry is in, as the node holds it then (a leave
    // sent meanwhile is not undone); without the entry it is not written, and the next look at the
    // index (every REAP_INTERVAL_MS) finds it short and writes the node's share again.
    return indexed.then(
      () => {
        const now = this.held?.now(room, userId) ?? { connections: count, tenantId };
        return this.set(this.nodeId, room, userId, now.tenantId, now.connections);
      },
      () => undefined,
    );
  }

  /** Drops the index entries of leaves older than LEAVES_INDEXED_MS whose room and user the node still has none of. */
  private forgetOldLeaves(): void {
    const before = Date.now() - LEAVES_INDEXED_MS;
    for (const [member, at] of this.lingering) {
      if (at >= before) break;
      this.lingering.delete(member);
      const [room, userId] = JSON.parse(member) as [string, string];
      if ((this.held?.now(room, userId).connections ?? 0) > 0) continue;
      this.redis.srem(this.index(this.nodeId), member).catch(() => {});
    }
  }

  /** Sets a node's share of a user in a room; the join or leave, when that made one. */
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
    if (this.writers === undefined) void this.writersChanged();
    await this.redis.sadd(this.nodesKey(), this.nodeId);
  }

  private keys(room: string): [string, string, string, string] {
    const tag = `${this.prefix}:presence:{${room}}`;
    return [`${tag}:n`, `${tag}:u`, `${tag}:t`, `${tag}:s`];
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
