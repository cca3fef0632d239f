import type { Socket as IoSocket, Namespace, Server as SocketIOServer } from 'socket.io';
import type { WebSocket } from 'ws';
import { namespacesOf } from '../adapters/socketio.js';
import type { Identity } from '../hub/index.js';
import type { PresenceEvent, PresenceMember, PresenceStore, Transition } from './presence-store.js';
import { PRESENCE_EVENT, presenceMessage, presenceStateMessage } from './wire.js';

/** How long a node remembers a leave, against a join of the same user that was announced before it and is still on its way. */
const LEAVES_KEPT_MS = 30_000;
/** How soon a restore that failed, or a change that did not reach the store, is written again. */
const RESTORE_RETRY_MS = 1_000;
/**
 * How long after a restore its transitions are announced again, for the nodes whose subscription
 * to the bus was not back yet when it ran (after a Redis restart each node reconnects in its own
 * time). A node that heard them the first time ignores the second: same version.
 */
const REANNOUNCE_MS = 5_000;

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
  /** How many rooms and users `local` holds. */
  private heldCount = 0;
  /**
   * Rooms and users whose last change did not reach the store (it may have half-reached it): the
   * next restore writes them too, even with no connection left. Each failure is a new array, so
   * that a restore forgets only those it wrote after them.
   */
  private readonly unsure = new Map<string, [string, string]>();
  private readonly wsIdentity = new WeakMap<WebSocket, Identity>();
  /** Connections of routes with `presence: true`: told of joins and leaves in their rooms. */
  private readonly wsTold = new WeakSet<WebSocket>();
  /** Socket.IO sockets with a user id, by socket id (the adapter's events name sockets by id). */
  private readonly ioIdentity = new Map<string, Identity>();
  /** Socket.IO servers whose route has `presence: true`. */
  private readonly ioTold = new Set<SocketIOServer>();
  private restoring: Promise<void> | undefined;
  /** Asked for while one ran: it may have read what it writes before the reason for this one. */
  private restoreAgain = false;
  /**
   * The last transition this node heard of per room and user, to keep the order the store made
   * them in: the latest (a leave) is kept a while after it, for a join older than it still on its way.
   */
  private readonly latest = new Map<string, { version: number; type: PresenceEvent['type']; at: number }>();
  private readonly sweep: NodeJS.Timeout;
  /** A restore that failed (the broker answered again before all of it could, as in a failover) is tried again. */
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Restores' transitions waiting to be announced again. */
  private readonly announcing = new Set<NodeJS.Timeout>();
  /** Something could not reach the store: reported once, until a restore succeeds. */
  private failing = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly hooks: PresenceHooks,
  ) {
    this.sweep = setInterval(() => this.forgetOldLeaves(), LEAVES_KEPT_MS);
    this.sweep.unref();
    store.hold(
      {
        keys: () => this.heldKeys(),
        now: (room, userId) => {
          const held = this.local.get(room)?.get(userId);
          if (!held) return { connections: 0 };
          return held.tenantId === undefined ? { connections: held.count } : { connections: held.count, tenantId: held.tenantId };
        },
        size: () => this.heldCount,
      },
      () => this.restore(),
    );
    store.onOrphaned((events) => {
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
    for (const timer of this.announcing) clearTimeout(timer);
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
    const had = held.count > 0;
    held.count += delta;
    if (tenantId !== undefined) held.tenantId = tenantId;
    if (held.count <= 0) {
      users.delete(userId);
      if (users.size === 0) this.local.delete(room);
      if (had) this.heldCount--;
    } else {
      users.set(userId, held);
      if (!had) this.heldCount++;
    }
    const here = Math.max(held.count, 0);
    this.store.change(room, userId, tenantId, delta, here).then(
      (transition) => {
        if (transition) this.happened(transition, true);
      },
      (error) => {
        this.unsure.set(`${room}\u0000${userId}`, [room, userId]);
        this.failed(error, {
          during: 'presence',
          note: `written again within ${RESTORE_RETRY_MS / 1000} s of the broker being back`,
        });
        this.restoreSoon();
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

  /** What a restore writes: every room and user this node has connections of, and those it is unsure of. */
  private *heldKeys(): Iterable<[string, string]> {
    for (const [room, users] of this.local) for (const userId of users.keys()) yield [room, userId];
    yield* this.unsure.values();
  }

  private failed(error: unknown, fields: Record<string, unknown>): void {
    if (!this.failing) this.hooks.report(error, fields);
    this.failing = true;
  }

  private restoreSoon(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.restore();
    }, RESTORE_RETRY_MS);
    this.retry.unref();
  }

  private announceAgain(transitions: Transition[]): void {
    const timer = setTimeout(() => {
      this.announcing.delete(timer);
      for (const transition of transitions) this.hooks.announce(transition);
    }, REANNOUNCE_MS);
    timer.unref();
    this.announcing.add(timer);
  }

  /** Writes what this node holds again, and announces the joins and leaves that makes. */
  private restore(): void {
    if (this.closed) return;
    if (this.restoring) {
      this.restoreAgain = true;
      return;
    }
    clearTimeout(this.retry);
    this.retry = undefined;
    this.restoreAgain = false;
    const unsure = new Map(this.unsure);
    this.restoring = this.store
      .restore()
      .then(
        (made) => {
          this.failing = false;
          for (const [key, value] of unsure) if (this.unsure.get(key) === value) this.unsure.delete(key);
          for (const event of made) this.happened(event, true);
          if (made.length > 0) this.announceAgain(made);
          if (this.unsure.size > 0) this.restoreSoon();
        },
        (error) => {
          this.failed(error, { during: 'presence restore', note: `tried again in ${RESTORE_RETRY_MS / 1000} s` });
          this.restoreSoon();
        },
      )
      .finally(() => {
        this.restoring = undefined;
        if (this.restoreAgain) this.restore();
      });
  }
}
