import type { WebSocket } from 'ws';

/** Which `ws` connections are in which room; a connection leaves all its rooms when it closes. */
export class WsRooms {
  private readonly members = new Map<string, Set<WebSocket>>();
  private readonly roomsOf = new Map<WebSocket, Set<string>>();

  /**
   * `watcher` hears of every connection entering and leaving a room (presence), and of a room
   * getting its first member here and losing its last (routing by room).
   */
  constructor(private readonly watcher?: RoomsWatcher) {}

  join(ws: WebSocket, room: string): void {
    let rooms = this.roomsOf.get(ws);
    if (!rooms) {
      if (ws.readyState > 1) return; // closing or closed: it would never leave
      rooms = new Set();
      this.roomsOf.set(ws, rooms);
      ws.once('close', () => this.leaveAll(ws));
    }
    if (rooms.has(room)) return;
    rooms.add(room);
    let members = this.members.get(room);
    if (!members) {
      members = new Set();
      this.members.set(room, members);
      this.watcher?.opened(room);
    }
    members.add(ws);
    this.watcher?.joined(ws, room);
  }

  leave(ws: WebSocket, room: string): void {
    this.roomsOf.get(ws)?.delete(room);
    const members = this.members.get(room);
    if (!members?.delete(ws)) return;
    this.watcher?.left(ws, room);
    if (members.size === 0) {
      this.members.delete(room);
      this.watcher?.emptied(room);
    }
  }

  leaveAll(ws: WebSocket): void {
    for (const room of this.roomsOf.get(ws) ?? []) this.leave(ws, room);
    this.roomsOf.delete(ws);
  }

  in(room: string): ReadonlySet<WebSocket> {
    return this.members.get(room) ?? EMPTY;
  }

  rooms(ws: WebSocket): ReadonlySet<string> {
    return this.roomsOf.get(ws) ?? EMPTY_ROOMS;
  }

  /** Room names and member counts, for dashboards. */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.members].map(([room, members]) => [room, members.size]));
  }
}

export interface RoomsWatcher {
  joined(ws: WebSocket, room: string): void;
  left(ws: WebSocket, room: string): void;
  opened(room: string): void;
  emptied(room: string): void;
}

const EMPTY: ReadonlySet<WebSocket> = new Set();
const EMPTY_ROOMS: ReadonlySet<string> = new Set();
