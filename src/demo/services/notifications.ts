import { tenantRoom, userRoom } from '../../realtime/index.js';
import type { Switchboard } from '../../switchboard.js';
import { demoAuthenticate } from '../identity.js';

export interface Notification {
  text: string;
  to: { userId?: string; tenantId?: string };
  at: string;
}

/**
 * A `ws` notifications service on `/notifications/ws`, at most three connections per user (the
 * oldest is replaced). `notify` goes through `hub.toUser` / `hub.toTenant`: every connection of
 * the user or tenant gets it, `ws` and Socket.IO alike (on every node, with a Redis broker).
 */
export function mountNotifications(hub: Switchboard): { notify(target: Notification['to'], text: string): { ws: number } } {
  const wss = hub.ws(
    '/notifications/ws',
    {},
    { authenticate: demoAuthenticate, perUser: { max: 3, onExceed: 'replace-oldest' } },
  );
  wss.on('connection', (ws) => ws.send(JSON.stringify({ event: 'hello', data: ws.principal })));
  return {
    notify(to, text) {
      const notification: Notification = { text, to, at: new Date().toISOString() };
      const room = to.userId !== undefined ? userRoom(to.userId) : tenantRoom(to.tenantId ?? 'public');
      const target = to.userId !== undefined ? hub.toUser(to.userId) : hub.toTenant(to.tenantId ?? 'public');
      target.emit('notification', notification);
      return { ws: hub.realtime.rooms.in(room).size };
    },
  };
}
