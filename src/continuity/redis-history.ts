import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { AppendResult, DuplicateAppend, FrameParts, HistoryOptions, HistoryStore, Position, ReadResult } from './history.js';

/**
 * The room's epoch, made first when it has none. An epoch names one copy of the room's history,
 * written by one Redis master: a master that is not the one that wrote the room's position (a
 * replica promoted after a failover, a server restarted from a snapshot) may lack the last writes,
 * whose offsets clients already hold. So on a new writer (its replication id) the room gets a new
 * epoch, and clients a gap, instead of seeing those offsets used again for other messages. A hash
 * written before the writer was recorded (`r`) takes the current one without a new epoch.
 * ARGV[newEpochArg]: the epoch to use when a new one is needed.
 */
function currentEpoch(newEpochArg: number): string {
  return `
local writer = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)') or ''
local known = redis.call('HMGET', KEYS[1], 'e', 'r')
local epoch = known[1]
if not epoch then
  epoch = ARGV[${newEpochArg}]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0, 'r', writer)
elseif known[2] ~= writer then
  if known[2] then epoch = ARGV[${newEpochArg}] end
  redis.call('HSET', KEYS[1], 'e', epoch, 'r', writer)
end`;
}

/**
 * One round trip per publish: the room's offset is incremented, the positioned frame built and
 * added to the room's stream (bounded by count), both keys' lives extended, and the bus message
 * carrying the frame published on the room's channel (ARGV[11]: PUBLISH, or SPUBLISH on a cluster),
 * atomically, in the order Redis runs them. An append is made once per node and sequence number
 * (ARGV[12]: the node's field, ARGV[13]: its sequence): ioredis sends the commands that were on
 * the wire again after a reconnect, and one whose answer was lost had already been made.
 * KEYS: the room's position (hash: e = epoch, o = offset, r = the replication id of the master that
 * wrote it, n:<node> = the node's last sequence), its stream.
 */
const APPEND = `${currentEpoch(1)}
local seq = tonumber(ARGV[13])
local made = tonumber(redis.call('HGET', KEYS[1], ARGV[12]))
if made and made >= seq then return {-1, epoch} end
redis.call('HSET', KEYS[1], ARGV[12], seq)
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local frame = ARGV[2] .. offset .. ARGV[3] .. epoch .. ARGV[4]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], offset .. '-1', 't', ARGV[6], 'f', frame)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
if ARGV[8] ~= '' then redis.call(ARGV[11], ARGV[8], ARGV[9] .. cjson.encode(frame) .. ARGV[10]) end
return {offset, epoch}
`;

/**
 * Where the room is, and with a position given, every frame after it, all of them or none: a
 * missing or too old entry, another epoch or an offset ahead of the room's make a gap.
 * ARGV: epoch asked ('' for the position only), offset asked, oldest time kept, a new epoch, key life.
 */
const READ = `${currentEpoch(4)}
if not known[1] then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
local last = tonumber(redis.call('HGET', KEYS[1], 'o'))
if ARGV[1] == '' then return {'ok', last, epoch} end
local from = tonumber(ARGV[2])
if epoch ~= ARGV[1] or from > last then return {'epoch', last, epoch} end
local result = {'ok', last, epoch}
if from == last then return result end
local expected = from + 1
local oldest = tonumber(ARGV[3])
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], expected .. '-1', '+')) do
  local offset = tonumber(string.match(entry[1], '^(%d+)-'))
  local fields = entry[2]
  if offset ~= expected or tonumber(fields[2]) < oldest then return {'expired', last, epoch} end
  table.insert(result, fields[4])
  expected = expected + 1
end
if expected ~= last + 1 then return {'expired', last, epoch} end
return result
`;

/** How long a room's keys outlive its last message (see memory-history.ts: an idle client still resumes). */
const POSITION_KEPT_MS = 60 * 60_000;

type Scripted = Redis & {
  switchboardAppend(meta: string, stream: string, ...args: (string | number)[]): Promise<[number, string]>;
  switchboardRead(meta: string, stream: string, ...args: (string | number)[]): Promise<[string, number, string, ...string[]]>;
};

/**
 * History in Redis, shared by every node: each room a stream of its positioned frames beside a
 * hash of its offset and epoch. Keys carry the room in a hash tag, so both keys of a room (and the
 * scripts that touch them) live in one slot of a Redis Cluster.
 */
export class RedisHistory implements HistoryStore {
  private readonly redis: Scripted;

  constructor(
    redis: Redis | Cluster,
    private readonly prefix: string,
    /** The channel the append publishes a room's frame on (none: the hub publishes it), and how. */
    private readonly publishing: { channel: (room: string) => string | undefined; command: 'PUBLISH' | 'SPUBLISH' },
    readonly options: HistoryOptions,
  ) {
    this.redis = redis as Scripted;
    if (typeof this.redis.switchboardAppend !== 'function') {
      redis.defineCommand('switchboardAppend', { numberOfKeys: 2, lua: APPEND });
      redis.defineCommand('switchboardRead', { numberOfKeys: 2, lua: READ });
    }
  }

  readonly shared = true;

  async append(
    room: string,
    parts: FrameParts,
    bus: { nodeId: string; message: object; seq: number },
  ): Promise<AppendResult | DuplicateAppend> {
    const envelope = JSON.stringify({ node: bus.nodeId, message: bus.message });
    const channel = this.publishing.channel(room) ?? '';
    const [offset, epoch] = await this.redis.switchboardAppend(
      ...this.keys(room),
      newEpoch(),
      parts.head,
      parts.mid,
      parts.tail,
      this.options.size,
      Date.now(),
      this.keptMs(),
      channel,
      // The bus message with the frame added as its last field: `{"node":…,"message":{…,"frame":"…"}}`.
      `${envelope.slice(0, -2)},"frame":`,
      '}}',
      this.publishing.command,
      `n:${bus.nodeId}`,
      bus.seq,
    );
    if (Number(offset) < 0) return { duplicate: true };
    const position = { offset: Number(offset), epoch };
    return {
      position,
      frame: `${parts.head}${position.offset}${parts.mid}${epoch}${parts.tail}`,
      published: channel !== '',
    };
  }

  async read(room: string, from: Position | undefined): Promise<ReadResult> {
    const [status, last, epoch, ...frames] = await this.redis.switchboardRead(
      ...this.keys(room),
      from?.epoch ?? '',
      from?.offset ?? 0,
      Date.now() - this.options.ttlMs,
      newEpoch(),
      this.keptMs(),
    );
    const position = { offset: Number(last), epoch };
    if (status === 'ok') return { position, frames };
    return { position, gap: status === 'epoch' ? 'epoch' : 'expired' };
  }

  async top(room: string): Promise<Position | undefined> {
    const [epoch, offset] = await this.redis.hmget(this.keys(room)[0], 'e', 'o');
    return epoch === null || epoch === undefined || offset === null ? undefined : { offset: Number(offset), epoch };
  }

  private keys(room: string): [string, string] {
    const tag = `${this.prefix}:h:{${room}}`;
    return [`${tag}:pos`, `${tag}:stream`];
  }

  private keptMs(): number {
    return Math.max(this.options.ttlMs, POSITION_KEPT_MS);
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}
