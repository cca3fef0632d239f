import type { HeldPresence, PresenceEvent, PresenceMember, PresenceStore, Transition } from './presence-store.js';

interface Member {
  tenantId?: string;
  /** Connections in the room per node. */
  nodes: Map<string, number>;
  total: number;
}

/**
 * Presence of the hubs of one process (one `memoryBroker()`): exact and synchronous. A hub that
 * closes takes its entries with it; there is no other way for a node of one process to die.
 */
export class MemoryPresence {
  private readonly rooms = new Map<string, Map<string, Member>>();
  private version = 0;

  /** The store as one node sees it. */
  forNode(nodeId: string): PresenceStore {
    let held: HeldPresence | undefined;
    return {
      change: async (room, userId, tenantId, delta) => this.change(nodeId, room, userId, tenantId, delta),
      members: async (room) => this.members(room),
      count: async (room) => this.rooms.get(room)?.size ?? 0,
      // Nothing is ever lost here: nothing to check.
      hold: (what) => {
        held = what;
      },
      restore: async () => this.restore(nodeId, held),
      onOrphaned: () => {},
      close: async () => this.restore(nodeId, undefined),
    };
  }

  private change(
    nodeId: string,
    room: string,
    userId: string,
    tenantId: string | undefined,
    delta: 1 | -1,
  ): Transition | undefined {
    let members = this.rooms.get(room);
    if (!members) {
      if (delta < 0) return undefined;
      members = new Map();
      this.rooms.set(room, members);
    }
    let member = members.get(userId);
    if (!member) {
      if (delta < 0) return undefined;
      member = { nodes: new Map(), total: 0 };
      members.set(userId, member);
    }
    const here = (member.nodes.get(nodeId) ?? 0) + delta;
    // A leave this node never counted a join for (it was restored since) takes nothing away.
    if (here < 0) return undefined;
    if (here === 0) member.nodes.delete(nodeId);
    else member.nodes.set(nodeId, here);
    member.total += delta;
    if (tenantId !== undefined && delta > 0) member.tenantId = tenantId;
    if (member.total === 0) {
      this.forget(room, members, userId);
      return { ...event(room, userId, member.tenantId, 'leave'), version: ++this.version };
    }
    if (member.total === 1 && delta > 0) return { ...event(room, userId, member.tenantId, 'join'), version: ++this.version };
    return undefined;
  }

  private members(room: string): PresenceMember[] {
    const members = this.rooms.get(room);
    if (!members) return [];
    return [...members].map(([userId, { tenantId, total }]) =>
      tenantId === undefined ? { userId, connections: total } : { userId, tenantId, connections: total },
    );
  }

  /** Sets the node's share of every room and user to what it holds (none: `undefined`); returns the transitions made. */
  private restore(nodeId: string, held: HeldPresence | undefined): Transition[] {
    const keys = new Map<string, [string, string]>();
    for (const [room, userId] of held?.keys() ?? []) keys.set(`${room}\u0000${userId}`, [room, userId]);
    for (const [room, members] of this.rooms) {
      for (const [userId, member] of members) if (member.nodes.has(nodeId)) keys.set(`${room}\u0000${userId}`, [room, userId]);
    }
    const made: Transition[] = [];
    for (const [room, userId] of keys.values()) {
      const { connections, tenantId } = held?.now(room, userId) ?? { connections: 0 };
      const transition = this.set(nodeId, room, userId, tenantId, connections);
      if (transition) made.push(transition);
    }
    return made;
  }

  private set(nodeId: string, room: string, userId: string, tenantId: string | undefined, count: number): Transition | undefined {
    let members = this.rooms.get(room);
    const old = members?.get(userId)?.nodes.get(nodeId) ?? 0;
    if (count === old) return undefined;
    if (!members) {
      members = new Map();
      this.rooms.set(room, members);
    }
    let member = members.get(userId);
    if (!member) {
      member = { nodes: new Map(), total: 0 };
      members.set(userId, member);
    }
    const before = member.total;
    member.total += count - old;
    if (count === 0) member.nodes.delete(nodeId);
    else member.nodes.set(nodeId, count);
    if (tenantId !== undefined && count > 0) member.tenantId = tenantId;
    if (member.total <= 0) {
      this.forget(room, members, userId);
      return before > 0 ? { ...event(room, userId, member.tenantId, 'leave'), version: ++this.version } : undefined;
    }
    if (before <= 0) return { ...event(room, userId, member.tenantId, 'join'), version: ++this.version };
    return undefined;
  }

  private forget(room: string, members: Map<string, Member>, userId: string): void {
    members.delete(userId);
    if (members.size === 0) this.rooms.delete(room);
  }
}

export function event(room: string, userId: string, tenantId: string | undefined, type: PresenceEvent['type']): PresenceEvent {
  return tenantId === undefined ? { room, userId, type } : { room, userId, tenantId, type };
}
