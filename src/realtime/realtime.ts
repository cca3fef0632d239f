import type { Server as SocketIOServer } from 'socket.io';
import WebSocket from 'ws';
import type { NamespaceGate } from '../adapters/socketio.js';
import {
  type Broker,
  type BrokerLink,
  type BrokerStatus,
  type BusMessage,
  fromWire,
  type RoomMessage,
  toWire,
} from '../cluster/broker.js';
import { Continuity } from '../continuity/continuity.js';
import type { HistoryOptions, HistoryStore } from '../continuity/history.js';
import { Requests } from '../continuity/requests.js';
import { helloFrame, type RoomData } from '../continuity/wire.js';
import { SwitchboardError } from '../errors.js';
import type { ConnectionEvent, Hub, Route } from '../hub/index.js';
import { Presence } from '../presence/presence.js';
import { within } from '../within.js';
import type { BroadcastResult, SlowConsumerPolicy } from './broadcast.js';
import { CapabilityBus, isRoomKind } from './bus.js';
import { Observers } from './observers.js';
import { PerUserPolicy } from './per-user-policy.js';
import { DISCONNECTED_CLOSE_CODE } from './reasons.js';
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
  /** The capabilities' messages to the other nodes, by kind. */
  readonly bus: CapabilityBus;
  /** A route's `perUser` limit, cluster-wide. */
  private readonly perUser: PerUserPolicy;
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
    this.bus = new CapabilityBus(this.link);
    this.presence = presenceOf(hub, this.link, this.bus, options, this.rooms);
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
    this.perUser = new PerUserPolicy(hub, this.link, this.bus, this.observers);
    hub.addAdmissionCheck(this.perUser.admissionCheck);
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
    return this.perUser.count(route, userId);
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
    if (!isRoomMessage(message)) {
      this.bus.heard(message);
      return;
    }
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
    if (userId !== undefined) this.perUser.wsOpened(route, userId, ws);
  }

  /**
   * The namespace gate of Socket.IO routes, run once a socket's identity is final: presence
   * learns who it is, then the per-user policy admits it.
   */
  readonly gate: NamespaceGate = (socket, identity, route, next) => {
    this.presence?.ioIdentified(socket, identity);
    this.perUser.gate(socket, identity, route, next);
  };
}

/** How long a closing hub waits for each of its goodbyes to the broker (presence, then the link). */
const GOODBYE_MS = 2_000;

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
function presenceOf(
  hub: Hub,
  link: BrokerLink,
  bus: CapabilityBus,
  options: RealtimeOptions,
  rooms: WsRooms,
): Presence | undefined {
  if (options.presence === false || !link.presence) return undefined;
  const presence = new Presence(link.presence, {
    announce: (event) => bus.send({ type: 'presence', event }),
    emit: (event) => hub.emit('presence', event),
    wsIn: (room) => rooms.in(room),
    report: (error, fields) => hub.reportError(error, fields),
  });
  bus.on<{ type: 'presence'; event: Parameters<Presence['heard']>[0] }>('presence', (message) => presence.heard(message.event));
  return presence;
}

function isRoomMessage(message: BusMessage): message is RoomMessage {
  return isRoomKind(message.type);
}
