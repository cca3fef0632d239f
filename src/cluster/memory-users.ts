import type { UserRegistry } from './broker.js';

/** Connections per user in this process: the registry of the in-memory broker. */
export class MemoryUserRegistry implements UserRegistry {
  private readonly sets = new Map<string, string[]>();

  async count(routeKey: string, userId: string): Promise<number> {
    return this.sets.get(key(routeKey, userId))?.length ?? 0;
  }

  async add(
    routeKey: string,
    userId: string,
    connectionId: string,
    policy: { max: number; onExceed: 'reject' | 'replace-oldest' },
  ) {
    const id = key(routeKey, userId);
    const list = this.sets.get(id) ?? [];
    if (list.length >= policy.max && policy.onExceed === 'reject') return { admitted: false, replace: [] };
    list.push(connectionId);
    this.sets.set(id, list);
    const replace = list.length > policy.max ? list.splice(0, list.length - policy.max) : [];
    return { admitted: true, replace };
  }

  async remove(routeKey: string, userId: string, connectionId: string): Promise<void> {
    const id = key(routeKey, userId);
    const list = this.sets.get(id);
    if (!list) return;
    const index = list.indexOf(connectionId);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.sets.delete(id);
  }
}

function key(routeKey: string, userId: string): string {
  return `${routeKey}\u0000${userId}`;
}
