import type { Cluster, Redis } from 'ioredis';

/**
 * How long a room's channel stays subscribed after its last member here left: a room that empties
 * and fills again (a user reconnecting, a handshake between its admission and its join) keeps its
 * subscription instead of paying for an unsubscribe and a subscribe, and missing what came between.
 */
export const LINGER_MS = 5_000;

/** A room's channel: its name in the room's hash tag, so on a cluster it lives in the slot of the room's history. */
export function roomChannel(prefix: string, room: string): string {
  return `${prefix}:r:{${room}}`;
}

/**
 * Whether a room's channel hashes to the same Redis Cluster slot as its history keys
 * (`<prefix>:h:{room}:…`), so that one script can append and publish. Both take the room as their
 * hash tag unless the room is empty or starts with `}`, when Redis hashes the whole name instead.
 */
export function channelBesideHistory(room: string): boolean {
  return room !== '' && !room.startsWith('}');
}

interface Entry {
  /** Members (and admissions) that want the room here, across the hubs of this process. */
  count: number;
  /** Settles once the channel's subscription is confirmed, or has failed (retried when Redis is back). */
  live: Promise<void> | undefined;
}

/**
 * Routing by room: the rooms this process has members in, each subscribed on its own channel
 * while it has, so that Redis sends a room's messages only to the nodes that need them. On one
 * Redis the subscriptions of a tick go as one SUBSCRIBE; on a cluster each channel goes to the
 * shard that owns its slot (SSUBSCRIBE takes channels of one slot only).
 */
export class RoomChannels {
  private readonly entries = new Map<string, Entry>();
  /** Rooms nobody here wants any more, since when: let go once their linger is over. */
  private readonly idle = new Map<string, number>();
  private batch: { channels: string[]; done: Promise<void> } | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly subscriber: Redis | Cluster,
    private readonly clustered: boolean,
    private readonly prefix: string,
    private readonly lingerMs = LINGER_MS,
  ) {}

  /** Rooms subscribed right now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * One more member wants the room here. Returns what settles once the room's messages from any
   * node reach this one, or undefined when they already do.
   */
  follow(room: string): Promise<void> | undefined {
    const entry = this.entries.get(room);
    if (entry) {
      if (entry.count++ === 0) this.idle.delete(room);
      return entry.live;
    }
    const created: Entry = { count: 1, live: undefined };
    this.entries.set(room, created);
    const live = this.subscribe(roomChannel(this.prefix, room)).then(() => {
      if (created.live === live) created.live = undefined;
    });
    created.live = live;
    return live;
  }

  /** One member fewer; the channel is let go a linger after the last. */
  unfollow(room: string): void {
    const entry = this.entries.get(room);
    if (!entry || entry.count === 0) return;
    entry.count--;
    if (entry.count > 0) return;
    this.idle.set(room, Date.now());
    this.sweeper ??= setInterval(() => this.sweep(), this.lingerMs).unref();
  }

  /**
   * After a reconnect: ioredis subscribes again what it had confirmed; what failed while Redis was
   * away is asked for again here (a second SUBSCRIBE of a channel is a no-op).
   */
  resubscribe(): void {
    for (const room of this.entries.keys()) {
      // Never rejects: a failure is asked for again at the next reconnect.
      void this.subscribe(roomChannel(this.prefix, room));
    }
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.entries.clear();
    this.idle.clear();
  }

  private sweep(): void {
    const before = Date.now() - this.lingerMs;
    const gone: string[] = [];
    // In the order they became idle: the first still in its linger ends the sweep.
    for (const [room, since] of this.idle) {
      if (since > before) break;
      this.idle.delete(room);
      this.entries.delete(room);
      gone.push(roomChannel(this.prefix, room));
    }
    if (this.idle.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    if (gone.length === 0) return;
    // A room followed again after this is subscribed again, on the same connection, after it.
    if (this.clustered) for (const channel of gone) (this.subscriber as Cluster).sunsubscribe(channel).catch(() => {});
    else (this.subscriber as Redis).unsubscribe(...gone).catch(() => {});
  }

  /** Settles (never rejects) once Redis confirmed the subscription, or refused it. */
  private subscribe(channel: string): Promise<void> {
    if (this.clustered) {
      return (this.subscriber as Cluster).ssubscribe(channel).then(
        () => undefined,
        () => undefined,
      );
    }
    // The rooms of one tick (a burst of joins, a node starting) in one command.
    if (this.batch) {
      this.batch.channels.push(channel);
      return this.batch.done;
    }
    const channels = [channel];
    const done = new Promise<void>((resolve) => {
      queueMicrotask(() => {
        this.batch = undefined;
        (this.subscriber as Redis).subscribe(...channels).then(
          () => resolve(),
          () => resolve(),
        );
      });
    });
    this.batch = { channels, done };
    return done;
  }
}
