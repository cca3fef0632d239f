import type { Server } from 'socket.io';
import { WebSocket } from 'ws';
import { namespacesOf } from '../adapters/socketio.js';
import { tenantRoom } from '../realtime/rooms.js';
import type { Switchboard } from '../switchboard.js';

/** Who is online, as the demo's page shows it: users per service and per tenant, from presence. */
export interface Online {
  services: Array<{ service: string; users: string[] }>;
  tenants: Array<{ tenant: string; users: string[] }>;
}

/** The presence room of one service of the demo: its route pattern, or its Socket.IO path and namespace. */
function serviceRoom(service: string): string {
  return `service:${service}`;
}

/**
 * Puts every connection of the demo in its service's room (ws routes by pattern, Socket.IO sockets
 * by server path and namespace) and reads presence for those rooms and the tenants' rooms: the
 * same `hub.presence()` an app would call, on one node or many.
 */
export class OnlineView {
  private readonly services = new Set<string>();
  private snapshot: Online = { services: [], tenants: [] };
  private reading = false;

  constructor(
    private readonly hub: Switchboard,
    sockets: Server[],
  ) {
    hub.on('connection', ({ route, connection }) => {
      if (!(connection instanceof WebSocket) || route.kind === 'dashboard') return;
      this.services.add(route.pattern);
      hub.join(connection, serviceRoom(route.pattern));
    });
    for (const io of sockets) {
      const follow = (nsp: ReturnType<Server['of']>) => {
        if (nsp.name === '/dashboard') return;
        const service = `${io.path()} ${nsp.name}`;
        nsp.on('connection', (socket) => {
          this.services.add(service);
          socket.join(serviceRoom(service));
        });
      };
      for (const nsp of namespacesOf(io)) follow(nsp);
      io.on('new_namespace', follow);
    }
  }

  /** The last reading. */
  current(): Online {
    return this.snapshot;
  }

  /** Reads presence again for these tenants and every service seen; the result is the next `current()`. */
  refresh(tenants: string[]): void {
    if (this.reading || !this.hub.realtime.presence) return;
    this.reading = true;
    const services = [...this.services].sort();
    const users = (room: string) => this.hub.presence(room).then((members) => members.map((m) => m.userId).sort());
    Promise.all([Promise.all(services.map((s) => users(serviceRoom(s)))), Promise.all(tenants.map((t) => users(tenantRoom(t))))])
      .then(
        ([byService, byTenant]) => {
          this.snapshot = {
            services: services.map((service, i) => ({ service, users: byService[i] ?? [] })).filter((s) => s.users.length > 0),
            tenants: tenants.map((tenant, i) => ({ tenant, users: byTenant[i] ?? [] })).filter((t) => t.users.length > 0),
          };
        },
        () => {},
      )
      .finally(() => {
        this.reading = false;
      });
  }
}
