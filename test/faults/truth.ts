import type { RunRecord } from './nodes.js';
import type { RedisReads, RedisUnderTest } from './redis.js';

/** A message as the room's stream recorded it. */
export interface Recorded {
  room: string;
  epoch: string;
  offset: number;
  pub: string;
  seq: number;
}

/** What one Redis lifetime held at its end: each room's epoch and stream, and the handler runs. */
export interface Lifetime {
  at: number;
  rooms: Map<string, { epoch: string | undefined; entries: Recorded[] }>;
  runs: RunRecord[];
  /** The snapshot could not be read (Redis unreachable): this lifetime is unknown. */
  error?: string;
}

/**
 * Reads what the private Redis holds now: for each room its epoch (the `:pos` hash) and its stream
 * (`<prefix>:h:{<room>}:stream`, whose entries carry the positioned frame in field `f`), and the
 * lists the nodes record handler runs in. Taken before every Redis restart or failover and at the
 * end, so the truth is the union of every lifetime of the server.
 */
export async function snapshot(redis: RedisUnderTest, prefix: string, rooms: string[]): Promise<Lifetime> {
  const at = Date.now();
  try {
    return await redis.with(async (client) => {
      const lifetime: Lifetime = { at, rooms: new Map(), runs: [] };
      for (const room of rooms) lifetime.rooms.set(room, await readRoom(client, prefix, room));
      for (const kind of ['start', 'done'] as const) {
        for (const line of await client.lrange(`faults:${prefix}:${kind}`, 0, -1)) {
          try {
            lifetime.runs.push({ kind, ...(JSON.parse(line) as Omit<RunRecord, 'kind'>) });
          } catch {
            // Not ours.
          }
        }
      }
      return lifetime;
    });
  } catch (error) {
    return { at, rooms: new Map(), runs: [], error: (error as Error).message };
  }
}

async function readRoom(client: RedisReads, prefix: string, room: string) {
  const tag = `${prefix}:h:{${room}}`;
  const epoch = (await client.hget(`${tag}:pos`, 'e')) ?? undefined;
  const entries: Recorded[] = [];
  for (const [, fields] of await client.xrange(`${tag}:stream`, '-', '+')) {
    const at = fields.indexOf('f');
    const frame = JSON.parse(fields[at + 1] ?? 'null') as {
      offset: number;
      epoch: string;
      data: { pub: string; seq: number; room: string };
    };
    entries.push({ room, epoch: frame.epoch, offset: frame.offset, pub: frame.data.pub, seq: frame.data.seq });
  }
  return { epoch: epoch ?? entries[0]?.epoch, entries };
}
