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

/** What this node holds of one room and user, to write again after the broker lost it. */
export interface PresenceEntry {
  room: string;
  userId: string;
  tenantId?: string;
  connections: number;
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
   * Makes the store hold exactly `entries` for this node (after an outage, or after it was taken
   * for dead). Returns the leaves of what it held and no longer does; joins are not announced.
   */
  restore(entries: PresenceEntry[]): Promise<Transition[]>;
  /** Leaves of the users of a node that stopped without saying goodbye, found by this node. */
  onOrphaned(listener: (events: Transition[]) => void): void;
  /** This node leaves the cluster: what it still held is removed; returns the leaves that made. */
  close(): Promise<Transition[]>;
}
