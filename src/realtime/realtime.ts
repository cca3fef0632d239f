import type { Socket, Server as SocketIOServer } from 'socket.io';
import type { NamespaceGate } from '../adapters/socketio.js';
import type { ConnectionEvent, Hub, Route } from '../hub/index.js';
import { PerUserConnections, type UserConnection } from './per-user.js';
import { PER_USER_LIMIT_CODE, perUserLimitReason, REPLACED_CLOSE_CODE, REPLACED_EVENT, REPLACED_REASON } from './reasons.js';
import { tenantRoom, userRoom } from './rooms.js';
import { roomTarget, type Target, type TargetOptions } from './targets.js';

/**
 * Users, tenants and the per-user connection policy of one hub. WebSocket routes are refused at
 * the handshake (429) or have their oldest connection closed with code 4001; Socket.IO routes
 * count engine.io sessions, and refuse in the first namespace the session joins, so that the
 * client gets a `connect_error` that says why instead of a bare HTTP status.
 */
export class Realtime {
  readonly perUser = new PerUserConnections();
  readonly ioServers = new Set<SocketIOServer>();
  private readonly forget = new WeakMap<object, () => void>();
  /** Socket.IO sessions already counted, with their sockets (one per namespace joined). */
  private readonly sessions = new WeakMap<object, { sockets: Set<Socket> }>();

  constructor(hub: Hub) {
    hub.addAdmissionCheck((route, identity) => {
      if (route.tracksOwnConnections) return undefined;
      const refusal = this.perUser.refusal(route, identity);
      return refusal && { status: 429, reason: perUserLimitReason(refusal.max) };
    });
    hub.on('connection', (event) => this.connected(event));
    hub.on('disconnect', (event) => this.forget.get(event.socket)?.());
  }

  toUser(userId: string | number, options?: TargetOptions): Target {
    return roomTarget(this.ioServers, userRoom(String(userId)), options);
  }

  toTenant(tenantId: string | number, options?: TargetOptions): Target {
    return roomTarget(this.ioServers, tenantRoom(String(tenantId)), options);
  }

  /** Applies the per-user policy to Socket.IO sessions; used as the namespace gate of Socket.IO routes. */
  readonly gate: NamespaceGate = (socket, ctx, route, next) => {
    const userId = ctx?.identity?.userId;
    if (!route.options.perUser || userId === undefined) {
      next();
      return;
    }
    const conn = socket.conn as unknown as import('node:events').EventEmitter & { close(): void };
    const known = this.sessions.get(conn);
    if (known) {
      this.follow(known.sockets, socket);
      next();
      return;
    }
    const refusal = this.perUser.refusal(route, ctx?.identity);
    if (refusal) {
      const error = new Error(perUserLimitReason(refusal.max)) as Error & { data?: unknown };
      error.data = { code: PER_USER_LIMIT_CODE, max: refusal.max };
      next(error);
      return;
    }
    const session = { sockets: new Set<Socket>() };
    this.follow(session.sockets, socket);
    this.sessions.set(conn, session);
    const entry: UserConnection = {
      replace: () => {
        const live = [...session.sockets].filter((each) => each.connected);
        for (const each of live) each.emit(REPLACED_EVENT, { reason: REPLACED_REASON });
        // Closing one socket with `true` closes the whole session and tells every namespace
        // "io server disconnect", after which Socket.IO clients do not reconnect by themselves.
        if (live[0]) live[0].disconnect(true);
        else conn.close();
      },
    };
    const forget = this.perUser.add(route, userId, entry);
    conn.once('close', forget);
    next();
  };

  private follow(sockets: Set<Socket>, socket: Socket): void {
    sockets.add(socket);
    socket.once('disconnect', () => sockets.delete(socket));
  }

  private connected({ route, socket, connection, ctx }: ConnectionEvent): void {
    const userId = ctx.identity?.userId;
    if (route.tracksOwnConnections || !route.options.perUser || userId === undefined) return;
    const forget = this.perUser.add(route as Route, userId, {
      replace: () => connection?.close(REPLACED_CLOSE_CODE, REPLACED_REASON),
    });
    this.forget.set(socket, forget);
  }
}
