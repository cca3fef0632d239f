import type { PresenceEntry, PresenceEvent, PresenceMember, PresenceStore, Transition } from './presence-store.js';

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
    return {
      change: async (room, userId, tenantId, delta) => this.change(nodeId, room, userId, tenantId, delta),
      members: async (room) => this.members(room),
      count: async (room) => this.rooms.get(room)?.size ?? 0,
      restore: async (entries) => this.restore(nodeId, entries),
      onOrphaned: () => {},
      close: async () => this.restore(nodeId, []),
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

  private restore(nodeId: string, entries: PresenceEntry[]): Transition[] {
    const wanted = new Map(entries.map((entry) => [`${entry.room}\u0000${entry.userId}`, entry]));
    const left: Transition[] = [];
    for (const [room, members] of [...this.rooms]) {
      for (const [userId, member] of [...members]) {
        const held = member.nodes.get(nodeId);
        if (held === undefined || wanted.has(`${room}\u0000${userId}`)) continue;
        member.nodes.delete(nodeId);
        member.total -= held;
        if (member.total <= 0) {
          this.forget(room, members, userId);
          left.push({ ...event(room, userId, member.tenantId, 'leave'), version: ++this.version });
        }
      }
    }
    for (const { room, userId, tenantId, connections } of wanted.values()) {
      let members = this.rooms.get(room);
      if (!members) {
        members = new Map();
        this.rooms.set(room, members);
      }
      let member = members.get(userId);
      if (!member) {
        member = { nodes: new Map(), total: 0 };
        members.set(userId, member);
      }
      member.total += connections - (member.nodes.get(nodeId) ?? 0);
      member.nodes.set(nodeId, connections);
      if (tenantId !== undefined) member.tenantId = tenantId;
    }
    return left;
  }

  private forget(room: string, members: Map<string, Member>, userId: string): void {
    members.delete(userId);
    if (members.size === 0) this.rooms.delete(room);
  }
}

export function event(room: string, userId: string, tenantId: string | undefined, type: PresenceEvent['type']): PresenceEvent {
  return tenantId === undefined ? { room, userId, type } : { room, userId, tenantId, type };
}
