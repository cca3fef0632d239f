import type { Identity, Route } from '../hub/index.js';

/** One live connection of a user on a route, oldest first in its list. */
export interface UserConnection {
  /** Closes it as a replaced connection, telling the client why. */
  replace(): void;
}

/**
 * Counts each user's connections per route and applies the route's `perUser` policy. Counting is
 * local to this process; the cluster layer makes it hold across nodes.
 */
export class PerUserConnections {
  private readonly byRoute = new Map<Route, Map<string, UserConnection[]>>();

  count(route: Route, userId: string): number {
    return this.byRoute.get(route)?.get(userId)?.length ?? 0;
  }

  /** The refusal for a new connection of this identity, if the route's policy refuses it. */
  refusal(route: Route, identity: Identity | undefined): { max: number } | undefined {
    const policy = route.options.perUser;
    if (!policy || identity?.userId === undefined) return undefined;
    if ((policy.onExceed ?? 'reject') !== 'reject') return undefined;
    return this.count(route, identity.userId) >= policy.max ? { max: policy.max } : undefined;
  }

  /**
   * Records a new connection; under `replace-oldest`, replaces the oldest ones beyond the limit.
   * Returns the function that forgets it (call it when the connection closes).
   */
  add(route: Route, userId: string, connection: UserConnection): () => void {
    let users = this.byRoute.get(route);
    if (!users) {
      users = new Map();
      this.byRoute.set(route, users);
    }
    let list = users.get(userId);
    if (!list) {
      list = [];
      users.set(userId, list);
    }
    list.push(connection);
    const policy = route.options.perUser;
    if (policy && policy.onExceed === 'replace-oldest') {
      while (list.length > policy.max) {
        const oldest = list.shift() as UserConnection;
        oldest.replace();
      }
    }
    return () => {
      const current = users.get(userId);
      const index = current?.indexOf(connection) ?? -1;
      if (!current || index === -1) return;
      current.splice(index, 1);
      if (current.length === 0) users.delete(userId);
    };
  }
}
