import type { BrokerLink } from '../cluster/broker.js';
import type { AdmissionCheck } from '../hub/index.js';
import { within } from '../within.js';
import { tenantRoom, userRoom } from './rooms.js';

/**
 * How long a handshake waits for its user's and tenant's rooms to reach this node before it is
 * answered anyway (Redis slow or away: cross-node messages are then dropped and counted as ever).
 */
const ADMISSION_WAIT_MS = 2_000;

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Routing by room, for one hub: the broker is told of each room this hub has `ws` members in, so
 * that it sends the hub a room's messages only while it has. A room's subscription takes a round
 * trip to set up, and a message sent to the room meanwhile would not reach this node; so a
 * handshake with an identity is answered once its user's and tenant's rooms are live here,
 * `hub.join` resolves once the room is, and a recovering connection reads where the room is only
 * after that (see continuity.ts).
 */
export class RoomRouting {
  /** Rooms whose subscription is not confirmed yet. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly link: BrokerLink) {}

  /** The room got its first member on this hub. */
  opened(room: string): void {
    const live = this.link.follow?.(room);
    if (!live) return;
    this.pending.set(room, live);
    live.then(() => {
      if (this.pending.get(room) === live) this.pending.delete(room);
    });
  }

  /** The room lost its last member on this hub. */
  emptied(room: string): void {
    this.pending.delete(room);
    this.link.unfollow?.(room);
  }

  /** Settles once the room's messages from every node reach this hub (at once when they do). */
  live(room: string): Promise<void> {
    return this.pending.get(room) ?? RESOLVED;
  }

  /** What settles once the room's messages reach this hub, while they may not yet. */
  pendingFor(room: string): Promise<void> | undefined {
    return this.pending.get(room);
  }

  /**
   * The admission check of `ws` routes: the user's and tenant's rooms are followed before the
   * handshake is answered, and kept by the broker's linger until the connection joins them.
   */
  readonly admissionCheck: AdmissionCheck = (route, identity) => {
    if (!this.link.follow || route.kind !== 'ws' || identity === undefined) return undefined;
    const waits: Promise<void>[] = [];
    for (const room of [
      identity.userId === undefined ? undefined : userRoom(identity.userId),
      identity.tenantId === undefined ? undefined : tenantRoom(identity.tenantId),
    ]) {
      if (room === undefined) continue;
      const live = this.link.follow(room);
      this.link.unfollow?.(room);
      if (live) waits.push(live);
    }
    if (waits.length === 0) return undefined;
    return within(ADMISSION_WAIT_MS, Promise.all(waits)).then(() => undefined);
  };
}
