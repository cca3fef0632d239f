import type { Socket as IoSocket } from 'socket.io';
import WebSocket from 'ws';
import { namespacesOf } from '../adapters/socketio.js';
import type { ConnectionEvent } from '../hub/index.js';
import { DISCONNECTED_CLOSE_CODE } from '../realtime/reasons.js';
import type { ReportingHub } from './local-activity.js';

/** One open connection of a user, as the dashboard lists it. */
export interface UserConnection {
  /** Cluster-wide: the node's id, then a number; what `close-connection` takes. */
  id: string;
  node: string;
  route: string;
  kind: string;
  userId: string;
  tenantId?: string;
  /** Milliseconds since the epoch. */
  openedAt: number;
  address?: string;
}

interface Entry {
  info: UserConnection;
  event: ConnectionEvent;
}

export const CLOSED_BY_DASHBOARD = 'closed from the operations dashboard';

/**
 * This node's connections that have a user id, by user, so that an operator can find a user's
 * connections and close one. Anonymous connections are not listed: there is nothing to look them
 * up by. One small entry per identified connection, kept only on nodes that mount a dashboard.
 */
export class ConnectionDirectory {
  private readonly byUser = new Map<string, Map<string, Entry>>();
  private readonly byId = new Map<string, Entry>();
  private sequence = 0;
  private readonly entries = new WeakMap<object, Entry>();
  private readonly undo: Array<() => void> = [];

  constructor(
    private readonly hub: ReportingHub,
    private readonly nodeId: string,
  ) {
    const opened = (event: ConnectionEvent) => this.opened(event);
    const closed = (event: ConnectionEvent) => this.closed(event);
    hub.on('connection', opened);
    hub.on('disconnect', closed);
    this.undo.push(
      () => hub.off('connection', opened),
      () => hub.off('disconnect', closed),
    );
  }

  /** The user's connections on this node, oldest first. */
  find(userId: string): UserConnection[] {
    const entries = this.byUser.get(userId);
    if (!entries) return [];
    return [...entries.values()].map(({ info, event }) => {
      const address = (event.socket as { remoteAddress?: string }).remoteAddress;
      return address === undefined ? { ...info } : { ...info, address };
    });
  }

  /** Whether `id` names a connection of this node (open or not). */
  owns(id: string): boolean {
    return id.startsWith(`${this.nodeId}~`);
  }

  /**
   * Closes one connection as `hub.realtime.disconnectUser` would (clients of `switchboard/client` and
   * Socket.IO clients do not reconnect by themselves); false when it is not open here.
   */
  close(id: string): boolean {
    const entry = this.byId.get(id);
    if (!entry) return false;
    const { connection, socket } = entry.event;
    if (connection instanceof WebSocket) {
      connection.close(DISCONNECTED_CLOSE_CODE, CLOSED_BY_DASHBOARD);
      return true;
    }
    // A Socket.IO session: one socket disconnected with `true` ends the session with
    // "io server disconnect", after which the client does not reconnect by itself.
    const socketOfSession = this.ioSocketOf(socket);
    if (socketOfSession) socketOfSession.disconnect(true);
    else if (connection) connection.close(DISCONNECTED_CLOSE_CODE, CLOSED_BY_DASHBOARD);
    else (socket as { destroy?: () => void }).destroy?.();
    return true;
  }

  stop(): void {
    for (const undo of this.undo.splice(0)) undo();
  }

  private opened(event: ConnectionEvent): void {
    const userId = event.ctx.identity?.userId;
    if (userId === undefined) return;
    const id = `${this.nodeId}~${(++this.sequence).toString(36)}`;
    const info: UserConnection = {
      id,
      node: this.nodeId,
      route: event.route.pattern,
      kind: event.route.kind,
      userId,
      openedAt: Date.now(),
    };
    const tenantId = event.ctx.identity?.tenantId;
    if (tenantId !== undefined) info.tenantId = tenantId;
    const entry = { info, event };
    let entries = this.byUser.get(userId);
    if (!entries) {
      entries = new Map();
      this.byUser.set(userId, entries);
    }
    entries.set(id, entry);
    this.byId.set(id, entry);
    this.entries.set(event.socket, entry);
  }

  private closed(event: ConnectionEvent): void {
    const entry = this.entries.get(event.socket);
    if (!entry) return;
    this.entries.delete(event.socket);
    this.byId.delete(entry.info.id);
    const entries = this.byUser.get(entry.info.userId);
    entries?.delete(entry.info.id);
    if (entries?.size === 0) this.byUser.delete(entry.info.userId);
  }

  private ioSocketOf(session: unknown): IoSocket | undefined {
    for (const io of this.hub.realtime.ioServers) {
      for (const nsp of namespacesOf(io)) {
        for (const socket of nsp.sockets.values()) if (socket.conn === session) return socket;
      }
    }
    return undefined;
  }
}
