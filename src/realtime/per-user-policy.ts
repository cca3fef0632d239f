import type { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io';
import type WebSocket from 'ws';
import type { NamespaceGate } from '../adapters/socketio.js';
import type { BrokerLink } from '../cluster/broker.js';
import type { AdmissionCheck, Hub, Route } from '../hub/index.js';
import type { CapabilityBus } from './bus.js';
import type { Observers } from './observers.js';
import {
  PER_USER_LIMIT_CLOSE_CODE,
  PER_USER_LIMIT_CODE,
  perUserLimitReason,
  REPLACED_CLOSE_CODE,
  REPLACED_EVENT,
  REPLACED_REASON,
} from './reasons.js';

type Policy = { max: number; onExceed: 'reject' | 'replace-oldest' };

/** To the node that holds it: the policy replaced this connection. */
type ReplaceMessage = { type: 'replace'; connectionId: string };

/**
 * A route's `perUser: { max, onExceed }`, cluster-wide: a user's connections are counted in the
 * broker's registry, a handshake over the limit is refused before it is accepted (`'reject'`), or
 * the user's oldest connection is closed wherever it is (`'replace-oldest'`). A Socket.IO session
 * counts once per user, however many namespaces it joins.
 */
export class PerUserPolicy {
  /** This node's connections under a policy, by cluster-wide id, with how to replace each. */
  private readonly local = new Map<string, () => void>();
  /** Socket.IO sessions already counted, per user, with their sockets and whether they were admitted. */
  private readonly sessions = new WeakMap<object, Map<string, { sockets: Set<Socket>; admitted: Promise<boolean> }>>();
  private sequence = 0;

  constructor(
    private readonly hub: Hub,
    private readonly link: BrokerLink,
    private readonly bus: CapabilityBus,
    private readonly observers: Observers,
  ) {
    bus.on<ReplaceMessage>('replace', (message) => this.local.get(message.connectionId)?.());
  }

  /** Refuses a handshake (429) whose user is at the route's limit, when the route says `'reject'`. */
  readonly admissionCheck: AdmissionCheck = (route, identity) => {
    const policy = route.options.perUser;
    if (route.tracksOwnConnections || !policy || identity?.userId === undefined) return undefined;
    if ((policy.onExceed ?? 'reject') !== 'reject') return undefined;
    return this.link.users.count(routeKey(route), identity.userId).then((count) => {
      if (count < policy.max) return undefined;
      this.observers.perUser(route.pattern, 'refused', 1);
      return { status: 429, reason: perUserLimitReason(policy.max) };
    });
  };

  /** Cluster-wide number of the user's connections on a route with a per-user policy. */
  count(route: Route, userId: string): Promise<number> {
    return this.link.users.count(routeKey(route), userId);
  }

  /** A `ws` connection of `userId` opened on `route`: on the books, under the route's policy if it has one. */
  wsOpened(route: Route, userId: string, ws: WebSocket): void {
    const policy = route.options.perUser;
    if (!policy) return;
    this.register(route, userId, ws, { max: policy.max, onExceed: policy.onExceed ?? 'reject' }, () =>
      ws.close(REPLACED_CLOSE_CODE, REPLACED_REASON),
    ).then(
      (admitted) => {
        // Two nodes admitted the same user at once, and this one came second.
        if (!admitted) ws.close(PER_USER_LIMIT_CLOSE_CODE, perUserLimitReason(policy.max));
      },
      (error) => this.hub.reportError(error, { during: 'per-user policy', pattern: route.pattern }),
    );
  }

  /**
   * The policy on Socket.IO sessions: the namespace gate of Socket.IO routes, run once a socket's
   * identity is final.
   */
  readonly gate: NamespaceGate = (socket, identity, route, next) => {
    const userId = identity?.userId;
    const policy = route.options.perUser;
    if (!policy || userId === undefined) {
      next();
      return;
    }
    const conn = socket.conn as unknown as EventEmitter & { close(): void };
    let users = this.sessions.get(conn);
    if (!users) {
      users = new Map();
      this.sessions.set(conn, users);
    }
    const sessionUsers = users;
    let session = sessionUsers.get(userId);
    if (!session) {
      const sockets = new Set<Socket>();
      const replaceSession = () => {
        const live = [...sockets].filter((each) => each.connected);
        for (const each of live) each.emit(REPLACED_EVENT, { reason: REPLACED_REASON });
        // Closing one socket with `true` closes the whole session and tells every namespace
        // "io server disconnect", after which Socket.IO clients do not reconnect by themselves.
        // A session that also carries another user (namespaces authenticated apart) loses only these.
        if (sessionUsers.size > 1) for (const each of live) each.disconnect();
        else if (live[0]) live[0].disconnect(true);
        else conn.close();
      };
      const admitted = this.register(
        route,
        userId,
        conn,
        { max: policy.max, onExceed: policy.onExceed ?? 'reject' },
        replaceSession,
      );
      session = { sockets, admitted };
      sessionUsers.set(userId, session);
    }
    const { sockets } = session;
    session.admitted.then(
      (admitted) => {
        if (!admitted) {
          const error = new Error(perUserLimitReason(policy.max)) as Error & { data?: unknown };
          error.data = { code: PER_USER_LIMIT_CODE, max: policy.max };
          next(error);
          return;
        }
        sockets.add(socket);
        socket.once('disconnect', () => sockets.delete(socket));
        next();
      },
      (error) => {
        this.hub.reportError(error, { during: 'per-user policy', pattern: route.pattern });
        next(new Error('the per-user policy could not be checked; try again'));
      },
    );
  };

  /**
   * Adds a connection to the user's cluster-wide list (atomically refusing it at the limit, or
   * replacing the oldest beyond it) and removes it when `handle` closes.
   */
  private async register(
    route: Route,
    userId: string,
    handle: EventEmitter,
    policy: Policy,
    replaceThis: () => void,
  ): Promise<boolean> {
    const id = `${this.link.nodeId}/${(++this.sequence).toString(36)}`;
    const key = routeKey(route);
    let closed = false;
    handle.once('close', () => {
      closed = true;
      this.local.delete(id);
      this.link.users.remove(key, userId, id).catch(() => {});
    });
    this.local.set(id, replaceThis);
    const { admitted, replace } = await this.link.users.add(key, userId, id, policy);
    if (closed && admitted) await this.link.users.remove(key, userId, id);
    if (!admitted) {
      this.local.delete(id);
      this.observers.perUser(route.pattern, 'refused', 1);
    }
    if (replace.length > 0) this.observers.perUser(route.pattern, 'replaced', replace.length);
    for (const other of replace) this.replace(other);
    return admitted && !closed;
  }

  /** A connection replaced by the policy: here, or on the node that holds it. */
  private replace(connectionId: string): void {
    const local = this.local.get(connectionId);
    if (local) local();
    else this.bus.send({ type: 'replace', connectionId } satisfies ReplaceMessage);
  }
}

/** Routes are the same on every node of an app; this names one across them. */
function routeKey(route: Route): string {
  return `${route.pattern}|${route.host ?? ''}|${route.protocol ?? ''}`;
}
