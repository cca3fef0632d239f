/** One user in a room, across every node: `connections` counts that user's connections in the room. */
export interface PresenceMember {
  userId: string;
  tenantId?: string;
  connections: number;
}

/** `'join'`: the user's first connection entered the room, anywhere; `'leave'`: the last one left. */
export interface PresenceEvent {
  room: string;
  userId: string;
  tenantId?: string;
  type: 'join' | 'leave';
}

/**
 * A transition as the store made it: `version` grows with every transition of the room, so that a
 * node hearing two of a user's transitions out of order (its own at once, another node's over the
 * bus) keeps the later one.
 */
export type Transition = PresenceEvent & { version: number };

/**
 * What this node holds, as the store reads it when it writes it again: at the moment it sends each
 * write, so that a change made meanwhile is neither undone nor counted twice.
 */
export interface HeldPresence {
  /** The rooms and users this node has connections of, and those whose last change may not have reached the store. */
  keys(): Iterable<[room: string, userId: string]>;
  /** This node's connections of `userId` in `room` now (0 when none), with the user's tenant. */
  now(room: string, userId: string): { connections: number; tenantId?: string };
  /** How many rooms and users this node has connections of. */
  size(): number;
}

/**
 * Who is in which room, cluster-wide, as one broker keeps it. Every node tells it of each of its
 * connections entering or leaving a room; it answers with the transitions that makes for the whole
 * cluster, so that exactly one node (the one that caused it) announces each.
 */
export interface PresenceStore {
  /**
   * One connection of `userId` entered (`delta` 1) or left (-1) `room` on this node, which now has
   * `here` of them there. Resolves with the transition that made for the cluster, if any.
   */
  change(
    room: string,
    userId: string,
    tenantId: string | undefined,
    delta: 1 | -1,
    here: number,
  ): Promise<Transition | undefined>;
  members(room: string): Promise<PresenceMember[]>;
  count(room: string): Promise<number>;
  /**
   * What this node holds. The store reads it to write it again, and may check now and then that it
   * still has it: `lost` is called when it finds it does not (this node was taken for dead, Redis
   * restarted, a write failed half-way, a replica took over from a master that may not have passed
   * on the last writes), and the node then calls `restore()`.
   */
  hold(held: HeldPresence, lost: () => void): void;
  /**
   * Makes the store hold exactly what this node holds (after an outage, a failed change, or after
   * it was taken for dead). Returns the transitions that made: a join for a user the store had
   * lost, a leave for one whose last connection closed while it was away.
   */
  restore(): Promise<Transition[]>;
  /** Leaves of the users of a node that stopped without saying goodbye, found by this node. */
  onOrphaned(listener: (events: Transition[]) => void): void;
  /** This node leaves the cluster: what it still held is removed; returns the leaves that made. */
  close(): Promise<Transition[]>;
}
