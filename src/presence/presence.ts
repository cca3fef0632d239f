import type { Socket as IoSocket, Namespace, Server as SocketIOServer } from 'socket.io';
import type { WebSocket } from 'ws';
import { namespacesOf } from '../adapters/socketio.js';
import type { Identity } from '../hub/index.js';
import type { PresenceEntry, PresenceEvent, PresenceMember, PresenceStore, Transition } from './presence-store.js';
import { PRESENCE_EVENT, presenceMessage, presenceStateMessage } from './wire.js';

/** How long a node remembers a leave, against a join of the same user that was announced before it and is still on its way. */
const LEAVES_KEPT_MS = 30_000;
/** How soon a restore that failed is tried again. */
const RESTORE_RETRY_MS = 1_000;

export interface PresenceHooks {
  /** Tells the other nodes of a transition this node found (over the broker's bus). */
  announce(transition: Transition): void;
  /** Tells this node's app (`hub.on('presence')`). */
  emit(event: PresenceEvent): void;
  /** This node's `ws` connections in a room. */
  wsIn(room: string): Iterable<WebSocket>;
  report(error: unknown, fields: Record<string, unknown>): void;
}

/**
 * Who is in which room, for connections with a user id, on this node and (through the broker's
 * presence store) on every node. Each `ws` connection entering or leaving a room (`hub.join`, its
 * user and tenant rooms, its close) and each Socket.IO socket doing so (the adapter's join-room and
 * leave-room) is one O(1) change of the store; the store says when that was a user's first or last
 * connection anywhere, and the node that caused it announces the transition to the others.
 */
export class Presence {
  /** This node's connections per room and user: what it writes again after the broker lost it. */
  private readonly local = new Map<string, Map<string, { tenantId?: string; count: number }>>();
  private readonly wsIdentity = new WeakMap<WebSocket, Identity>();
  /** Connections of routes with `presence: true`: told of joins and leaves in their rooms. */
  private readonly wsTold = new WeakSet<WebSocket>();
  /** Socket.IO sockets with a user id, by socket id (the adapter's events name sockets by id). */
  private readonly ioIdentity = new Map<string, Identity>();
  /** Socket.IO servers whose route has `presence: true`. */
  private readonly ioTold = new Set<SocketIOServer>();
  private restoring: Promise<void> | undefined;
  /**
   * The last transition this node heard of per room and user, to keep the order the store made
   * them in: the latest (a leave) is kept a while after it, for a join older than it still on its way.
   */
  private readonly latest = new Map<string, { version: number; type: PresenceEvent['type']; at: number }>();
  private readonly sweep: NodeJS.Timeout;
  /** A restore that failed (the broker answered again before all of it could, as in a failover) is tried again. */
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** A change could not reach the store: what this node holds is written again once it is back. */
  private stale = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly hooks: PresenceHooks,
  ) {
    this.sweep = setInterval(() => this.forgetOldLeaves(), LEAVES_KEPT_MS);
    this.sweep.unref();
    store.onOrphaned((events) => {
      if (events.length === 0) {
        this.restore();
        return;
      }
      for (const event of events) this.happened(event, true);
    });
  }

  /** A `ws` connection with an identity (before it joins its user and tenant rooms). */
  wsOpened(ws: WebSocket, identity: Identity | undefined, told: boolean): void {
    if (identity?.userId !== undefined) this.wsIdentity.set(ws, identity);
    if (told) this.wsTold.add(ws);
  }

  wsJoined(ws: WebSocket, room: string): void {
    const identity = this.wsIdentity.get(ws);
    if (identity?.userId !== undefined) this.changed(room, identity, 1);
    if (this.wsTold.has(ws)) this.tellState(room, (message) => ws.send(JSON.stringify(message)));
  }

  wsLeft(ws: WebSocket, room: string): void {
    const identity = this.wsIdentity.get(ws);
    if (identity?.userId !== undefined) this.changed(room, identity, -1);
  }

  /**
   * A Socket.IO socket's identity is final: it is about to join its user and tenant rooms. A
   * session Socket.IO restored is in its rooms already (joined before anyone knew who it was):
   * those count from now.
   */
  ioIdentified(socket: IoSocket, identity: Identity | undefined): void {
    if (identity?.userId === undefined || this.ioIdentity.has(socket.id)) return;
    this.ioIdentity.set(socket.id, identity);
    // After Socket.IO's own close listener, which makes the socket leave every room first.
    socket.conn.once('close', () => this.ioIdentity.delete(socket.id));
    for (const room of socket.rooms) this.ioRoom(socket.nsp, room, socket.id, 1);
  }

  /** Follows the rooms of every namespace of `io`, now and later; `told`: its route has `presence: true`. */
  watchSocketIO(io: SocketIOServer, told: boolean): void {
    if (told) this.ioTold.add(io);
    const watch = (nsp: Namespace) => {
      nsp.adapter.on('join-room', (room: string, id: string) => this.ioRoom(nsp, room, id, 1));
      nsp.adapter.on('leave-room', (room: string, id: string) => this.ioRoom(nsp, room, id, -1));
    };
    for (const nsp of namespacesOf(io)) watch(nsp);
    io.on('new_namespace', watch);
  }

  unwatchSocketIO(io: SocketIOServer): void {
    this.ioTold.delete(io);
  }

  members(room: string): Promise<PresenceMember[]> {
    return this.store.members(room);
  }

  count(room: string): Promise<number> {
    return this.store.count(room);
  }

  /** A transition another node announced. */
  heard(transition: Transition): void {
    this.happened(transition, false);
  }

  /** The broker is back after an outage: this node writes what it holds again. */
  brokerBack(): void {
    this.restore();
  }

  /** The hub closes: what this node still holds leaves, announced like any leave. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    clearTimeout(this.retry);
    await this.restoring;
    try {
      for (const event of await this.store.close()) this.happened(event, true);
    } catch (error) {
      this.hooks.report(error, { during: 'presence close' });
    }
  }

  private ioRoom(nsp: Namespace, room: string, id: string, delta: 1 | -1): void {
    // Every socket is in a room named by its own id; that is no one's presence.
    if (room === id) return;
    const identity = this.ioIdentity.get(id);
    if (identity?.userId !== undefined) this.changed(room, identity, delta);
    if (delta > 0 && this.ioTold.has(nsp.server)) {
      const socket = nsp.sockets.get(id);
      this.tellState(room, (message) => socket?.emit(PRESENCE_EVENT, message));
    }
  }

  private changed(room: string, identity: Identity, delta: 1 | -1): void {
    const userId = identity.userId as string;
    const { tenantId } = identity;
    let users = this.local.get(room);
    if (!users) {
      users = new Map();
      this.local.set(room, users);
    }
    const held = users.get(userId) ?? { count: 0 };
    held.count += delta;
    if (tenantId !== undefined) held.tenantId = tenantId;
    if (held.count <= 0) {
      users.delete(userId);
      if (users.size === 0) this.local.delete(room);
    } else {
      users.set(userId, held);
    }
    const here = Math.max(held.count, 0);
    this.store.change(room, userId, tenantId, delta, here).then(
      (transition) => {
        if (transition) this.happened(transition, true);
      },
      (error) => {
        if (!this.stale) this.hooks.report(error, { during: 'presence', note: 'written again when the broker is back' });
        this.stale = true;
      },
    );
  }

  private happened(transition: Transition, ours: boolean): void {
    if (ours) this.hooks.announce(transition);
    const { version, ...event } = transition;
    const key = `${event.room}\u0000${event.userId}`;
    const last = this.latest.get(key);
    if (last && last.version >= version) return; // older than what this node already told
    if (event.type === 'join') this.latest.set(key, { version, type: 'join', at: 0 });
    else this.latest.set(key, { version, type: 'leave', at: Date.now() });
    // A join and a leave both missed in between: the user is where this node last said.
    if (last?.type === event.type) return;
    this.hooks.emit(event);
    const message = presenceMessage(event);
    let frame: string | undefined;
    for (const ws of this.hooks.wsIn(event.room)) {
      if (!this.wsTold.has(ws)) continue;
      frame ??= JSON.stringify(message);
      ws.send(frame);
    }
    // `local`: every node tells its own sockets, as it heard the event itself.
    for (const io of this.ioTold) for (const nsp of namespacesOf(io)) nsp.local.to(event.room).emit(PRESENCE_EVENT, message);
  }

  private forgetOldLeaves(): void {
    const before = Date.now() - LEAVES_KEPT_MS;
    for (const [key, { type, at }] of this.latest) if (type === 'leave' && at < before) this.latest.delete(key);
  }

  /** Sends a connection that entered a room on a told route who is in it already. */
  private tellState(room: string, send: (message: object) => void): void {
    this.store.members(room).then(
      (members) => {
        try {
          send(presenceStateMessage(room, members));
        } catch {
          // Closed meanwhile.
        }
      },
      (error) => this.hooks.report(error, { during: 'presence', room }),
    );
  }

  private restore(): void {
    if (this.restoring || this.closed) return;
    clearTimeout(this.retry);
    const entries: PresenceEntry[] = [];
    for (const [room, users] of this.local) {
      for (const [userId, { tenantId, count }] of users) {
        entries.push(
          tenantId === undefined ? { room, userId, connections: count } : { room, userId, tenantId, connections: count },
        );
      }
    }
    this.restoring = this.store
      .restore(entries)
      .then(
        (left) => {
          this.stale = false;
          for (const event of left) this.happened(event, true);
        },
        (error) => {
          this.hooks.report(error, { during: 'presence restore', note: `tried again in ${RESTORE_RETRY_MS / 1000} s` });
          this.retry = setTimeout(() => this.restore(), RESTORE_RETRY_MS);
          this.retry.unref();
        },
      )
      .finally(() => {
        this.restoring = undefined;
      });
  }
}
