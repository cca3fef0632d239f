import type { EventEmitter } from 'node:events';
import type { Socket, Server as SocketIOServer } from 'socket.io';
import WebSocket from 'ws';
import type { NamespaceGate } from '../adapters/socketio.js';
import { type Broker, type BrokerLink, type BrokerStatus, type BusMessage, fromWire, toWire } from '../cluster/broker.js';
import { Continuity } from '../continuity/continuity.js';
import type { HistoryOptions, HistoryStore } from '../continuity/history.js';
import { Requests } from '../continuity/requests.js';
import { helloFrame, type RoomData } from '../continuity/wire.js';
import { SwitchboardError } from '../errors.js';
import type { ConnectionEvent, Hub, Route } from '../hub/index.js';
import { Presence } from '../presence/presence.js';
import { within } from '../within.js';
import type { BroadcastResult, SlowConsumerPolicy } from './broadcast.js';
import { Observers } from './observers.js';
import {
  DISCONNECTED_CLOSE_CODE,
  PER_USER_LIMIT_CLOSE_CODE,
  PER_USER_LIMIT_CODE,
  perUserLimitReason,
  REPLACED_CLOSE_CODE,
  REPLACED_EVENT,
  REPLACED_REASON,
} from './reasons.js';
import { RoomRouting } from './room-routing.js';
import { tenantRoom, userRoom } from './rooms.js';
import { selectNamespaces, type Target, type TargetOptions } from './targets.js';
import { WsRooms } from './ws-rooms.js';

export interface RealtimeOptions {
  broker: Broker;
  /** Who is in which room, cluster-wide (default on); false keeps no presence. */
  presence?: boolean;
  slowConsumers: SlowConsumerPolicy;
  /** Each room a stream with positions, for routes with `recover: true`. */
  history?: HistoryOptions;
}

/** Data a room publish accepts: sent as is (strings as text frames), objects as JSON. */
export type PublishData = string | Buffer | ArrayBuffer | Uint8Array | object;

/**
 * Users, tenants, rooms and the per-user connection policy of one hub, on one node or many.
 * Local recipients are reached at once; the broker carries the same message to the other nodes,
 * each of which delivers to its own connections (the official adapter does it for Socket.IO).
 */
export class Realtime {
  readonly ioServers = new Set<SocketIOServer>();
  readonly rooms = new WsRooms({
    joined: (ws, room) => this.presence?.wsJoined(ws, room),
    left: (ws, room) => this.presence?.wsLeft(ws, room),
    opened: (room) => this.routing.opened(room),
    emptied: (room) => {
      this.routing.emptied(room);
      this.continuity.forget(room);
    },
  });
  /** Which rooms the broker sends this hub (routing by room). */
  private readonly routing: RoomRouting;
  /** Who is in which room, when the hub keeps presence and its broker can. */
  readonly presence: Presence | undefined;
  readonly link: BrokerLink;
  /** This node's connections under a per-user policy, by cluster-wide id, with how to replace each. */
  private readonly local = new Map<string, () => void>();
  /** Socket.IO sessions already counted, per user, with their sockets and whether they were admitted. */
  private readonly sessions = new WeakMap<object, Map<string, { sockets: Set<Socket>; admitted: Promise<boolean> }>>();
  private sequence = 0;
  private brokerUp = true;
  /** Rooms as streams with positions, when the hub keeps history. */
  readonly continuity: Continuity;
  /** `hub.onRequest`: acknowledged requests, answered once per id. */
  readonly requests: Requests;
  /** Who is told of publishes, deliveries, recoveries and the broker's health (metrics). */
  readonly observers = new Observers();
  /** Settles once the hub closed and this node left the broker (`hub.close()` waits for it). */
  finished: Promise<void> | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly options: RealtimeOptions,
  ) {
    this.link = options.broker.join(
      (message) => this.fromOtherNode(message),
      (status) => this.brokerStatus(status),
    );
    this.routing = new RoomRouting(this.link);
    this.presence = presenceOf(hub, this.link, options, this.rooms);
    this.requests = new Requests(
      (error, fields) => hub.reportError(error, fields),
      options.broker.answers?.(),
      (result) => this.observers.requestRun(result),
    );
    this.continuity = new Continuity(
      historyOf(options),
      options.slowConsumers,
      this.link,
      (error, fields) => hub.reportError(error, fields),
      this.observers,
      (room) => this.rooms.in(room),
    );
    this.link.ready.catch((error) => hub.reportError(error, { during: 'broker start' }));
    hub.addAdmissionCheck((route, identity) => {
      const policy = route.options.perUser;
      if (route.tracksOwnConnections || !policy || identity?.userId === undefined) return undefined;
      if ((policy.onExceed ?? 'reject') !== 'reject') return undefined;
      return this.link.users.count(routeKey(route), identity.userId).then((count) => {
        if (count < policy.max) return undefined;
        this.observers.perUser(route.pattern, 'refused', 1);
        return { status: 429, reason: perUserLimitReason(policy.max) };
      });
    });
    hub.addAdmissionCheck(this.routing.admissionCheck);
    // The package's one listener of the hub's 'connection': what else counts connections (a node's
    // report) hears of them through the observers.
    hub.on('connection', (event) => {
      this.observers.connected(event);
      this.connected(event);
    });
    hub.on('close', () => {
      this.requests.close();
      this.continuity.close();
      // Presence says goodbye through the link, so the link closes after it. A broker that does
      // not answer (Redis gone, a cluster without a master) gets a bounded wait, not the process's life.
      this.finished = within(GOODBYE_MS, this.presence?.close() ?? Promise.resolve()).then(() =>
        within(GOODBYE_MS, this.link.close()),
      );
    });
  }

  /** Whether the broker can deliver across nodes right now (always, for the in-memory broker). */
  get brokerIsUp(): boolean {
    return this.brokerUp;
  }

  /** Connects a Socket.IO server of the hub to the broker (Redis adapter across nodes). */
  addSocketIO(io: SocketIOServer, presence = false): void {
    this.ioServers.add(io);
    this.link.attachSocketIO(io);
    // After the broker's adapter is in place: the rooms are followed on the adapters that stay.
    this.presence?.watchSocketIO(io, presence);
  }

  /** A closed Socket.IO server is no longer a target of user, tenant and room emits. */
  removeSocketIO(io: SocketIOServer): void {
    this.ioServers.delete(io);
    this.presence?.unwatchSocketIO(io);
  }

  /** Settles once messages to the room from every node reach the connection. */
  join(ws: WebSocket, room: string): Promise<void> {
    if (!this.rooms.rooms(ws).has(room)) {
      this.rooms.join(ws, room);
      // Told where the room is (after what it missed there) only once it is really in it, and
      // once the room's messages reach this node: nothing after that position can pass it by.
      if (this.rooms.rooms(ws).has(room)) {
        this.continuity.joined(ws, room, this.routing.pendingFor(room));
      }
    }
    return this.routing.live(room);
  }

  leave(ws: WebSocket, room: string): void {
    this.rooms.leave(ws, room);
  }

  /** Sends `data` to every `ws` connection in `room`, on every node; returns what this node did. */
  publish(room: string, data: PublishData): BroadcastResult {
    const { payload, binary } = normalize(data);
    this.observers.published('publish');
    return this.continuity.publish(() => this.rooms.in(room), {
      room,
      payload,
      binary,
      data: roomData(data, payload, binary),
      bus: { type: 'publish', room, data: binary ? toWire(payload) : toWire(payload.toString()) },
    });
  }

  toUser(userId: string | number, options?: TargetOptions): Target {
    return this.target(userRoom(String(userId)), options);
  }

  toTenant(tenantId: string | number, options?: TargetOptions): Target {
    return this.target(tenantRoom(String(tenantId)), options);
  }

  /** Closes every connection of the user, on every node (`ws`: code 4003 with the reason). */
  disconnectUser(userId: string | number, reason = 'disconnected by the server'): void {
    this.toUser(userId).disconnect(reason);
  }

  /** Cluster-wide number of the user's connections on a route with a per-user policy. */
  userConnections(route: Route, userId: string): Promise<number> {
    return this.link.users.count(routeKey(route), userId);
  }

  private target(room: string, options: TargetOptions = {}): Target {
    return {
      emit: (event, ...args) => {
        for (const nsp of selectNamespaces(this.ioServers, options)) nsp.to(room).emit(event, ...args);
        this.observers.published('emit');
        if (options.namespace === undefined) {
          const data = args.length === 1 ? args[0] : args;
          this.continuity.publish(() => this.rooms.in(room), {
            room,
            payload: JSON.stringify({ event, data }),
            binary: false,
            data: { value: { event, data } },
            bus: { type: 'emit', room, event, data },
          });
        }
        return true;
      },
      disconnect: (reason = 'disconnected by the server') => {
        for (const nsp of selectNamespaces(this.ioServers, options)) nsp.in(room).disconnectSockets(true);
        if (options.namespace === undefined) {
          this.link.publish({ type: 'disconnect', room, reason });
          this.closeLocally(room, reason);
        }
      },
    };
  }

  private emitLocally(room: string, event: string, data: unknown, frame: string | undefined): void {
    this.continuity.deliver(this.rooms.in(room), room, JSON.stringify({ event, data }), false, frame);
  }

  private closeLocally(room: string, reason: string): void {
    for (const ws of [...this.rooms.in(room)]) ws.close(DISCONNECTED_CLOSE_CODE, reason.slice(0, 120));
  }

  private fromOtherNode(message: BusMessage): void {
    switch (message.type) {
      case 'publish': {
        const { data, binary } = fromWire(message.data);
        this.continuity.deliver(this.rooms.in(message.room), message.room, data, binary, message.frame);
        break;
      }
      case 'emit':
        this.emitLocally(message.room, message.event, message.data, message.frame);
        break;
      case 'disconnect':
        this.closeLocally(message.room, message.reason);
        break;
      case 'replace':
        this.local.get(message.connectionId)?.();
        break;
      case 'report':
        this.observers.nodeReported(message.report);
        break;
      case 'operations':
        this.observers.operations(message.message);
        break;
      case 'presence':
        this.presence?.heard(message.event);
        break;
    }
  }

  private brokerStatus(status: BrokerStatus): void {
    if (status.up === this.brokerUp) return;
    this.brokerUp = status.up;
    this.observers.brokerChanged(status.up);
    if (!status.up) {
      // Reported once per outage; local delivery goes on.
      this.hub.reportError(status.error, {
        during: 'broker',
        note: 'local delivery continues; cross-node messages are dropped until it is back',
      });
    } else {
      this.hub.options.logger.info({ broker: this.options.broker.kind }, 'broker connection restored');
      this.presence?.brokerBack();
      this.continuity.resync();
    }
  }

  /** A connection replaced by the policy: here, or on the node that holds it. */
  private replace(connectionId: string): void {
    const local = this.local.get(connectionId);
    if (local) local();
    else this.link.publish({ type: 'replace', connectionId });
  }

  private newConnectionId(): string {
    return `${this.link.nodeId}/${(++this.sequence).toString(36)}`;
  }

  /** `ws` connections: into their user's and tenant's rooms, and on the books of the per-user policy. */
  private connected({ route, connection, ctx }: ConnectionEvent): void {
    if (route.tracksOwnConnections || !(connection instanceof WebSocket)) return;
    const ws = connection;
    const identity = ctx.identity;
    const { recover = false, presence: told = false } = route.options;
    if (identity === undefined && !recover && !told) return;
    const { userId, tenantId } = identity ?? {};
    if (userId !== undefined) this.requests.scope(ws, userId);
    this.presence?.wsOpened(ws, identity, told);
    if (recover) {
      this.continuity.opened(ws, ctx.query, helloFrame({ recover, presence: told }));
      this.requests.listen(ws);
    } else if (told) {
      ws.send(helloFrame({ recover, presence: told }));
    }
    if (userId !== undefined) this.join(ws, userRoom(userId));
    if (tenantId !== undefined) this.join(ws, tenantRoom(tenantId));
    const policy = route.options.perUser;
    if (!policy || userId === undefined) return;
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
   * Adds a connection to the user's cluster-wide list (atomically refusing it at the limit, or
   * replacing the oldest beyond it) and removes it when `handle` closes.
   */
  private async register(
    route: Route,
    userId: string,
    handle: EventEmitter,
    policy: { max: number; onExceed: 'reject' | 'replace-oldest' },
    replaceThis: () => void,
  ): Promise<boolean> {
    const id = this.newConnectionId();
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

  /**
   * The per-user policy on Socket.IO sessions: the namespace gate of Socket.IO routes, run once a
   * socket's identity is final. A session counts once per user, however many namespaces it joins.
   */
  readonly gate: NamespaceGate = (socket, identity, route, next) => {
    this.presence?.ioIdentified(socket, identity);
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
}

/** How long a closing hub waits for each of its goodbyes to the broker (presence, then the link). */
const GOODBYE_MS = 2_000;

/** Routes are the same on every node of an app; this names one across them. */
function routeKey(route: Route): string {
  return `${route.pattern}|${route.host ?? ''}|${route.protocol ?? ''}`;
}

/** The history of the hub's broker, if the hub keeps one; a broker that cannot keep one is a start-up error. */
function historyOf(options: RealtimeOptions): HistoryStore | undefined {
  if (!options.history) return undefined;
  if (!options.broker.history) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `switchboard(server, { history }): the ${options.broker.kind} broker keeps no history. ` +
        'Use the memory broker (the default) for history in one process.',
    );
  }
  return options.broker.history(options.history);
}

/** A publish's data as a recovering connection's envelope carries it: the value given, or bytes. */
function roomData(data: PublishData, payload: Buffer, binary: boolean): RoomData {
  // Objects go into the envelope as they are: JSON.stringify of the envelope gives them the same text as a plain publish.
  if (binary) return { binary: payload };
  return { value: data };
}

function normalize(data: PublishData): { payload: Buffer; binary: boolean } {
  if (typeof data === 'string') return { payload: Buffer.from(data), binary: false };
  if (Buffer.isBuffer(data)) return { payload: data, binary: true };
  if (data instanceof ArrayBuffer) return { payload: Buffer.from(data), binary: true };
  if (ArrayBuffer.isView(data)) return { payload: Buffer.from(data.buffer, data.byteOffset, data.byteLength), binary: true };
  return { payload: Buffer.from(JSON.stringify(data)), binary: false };
}

/** The hub's presence, unless it was turned off or its broker keeps none. */
function presenceOf(hub: Hub, link: BrokerLink, options: RealtimeOptions, rooms: WsRooms): Presence | undefined {
  if (options.presence === false || !link.presence) return undefined;
  return new Presence(link.presence, {
    announce: (event) => link.publish({ type: 'presence', event }),
    emit: (event) => hub.emit('presence', event),
    wsIn: (room) => rooms.in(room),
    report: (error, fields) => hub.reportError(error, fields),
  });
}
