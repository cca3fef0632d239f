import type { WebSocket } from 'ws';
import type { Switchboard } from '../../switchboard.js';
import { type DemoPrincipal, demoAuthenticate } from '../identity.js';

export interface Notification {
  text: string;
  to: { userId?: string; tenantId?: string };
  at: string;
}

/**
 * A `ws` notifications service on `/notifications/ws`, at most three connections per user (the
 * oldest is replaced). `notify` reaches a user's or a tenant's sockets here and in every
 * Socket.IO namespace of the hub (as the `notification` event), and says how many it reached.
 */
export function mountNotifications(hub: Switchboard): { notify(target: Notification['to'], text: string): { ws: number } } {
  const wss = hub.ws(
    '/notifications/ws',
    {},
    { authenticate: demoAuthenticate, perUser: { max: 3, onExceed: 'replace-oldest' } },
  );
  wss.on('connection', (ws) => ws.send(JSON.stringify({ event: 'hello', data: ws.principal })));

  const matches = (ws: WebSocket, to: Notification['to']) => {
    const principal = ws.principal as DemoPrincipal;
    return to.userId !== undefined ? principal.userId === to.userId : principal.tenantId === to.tenantId;
  };
  return {
    notify(to, text) {
      const notification: Notification = { text, to, at: new Date().toISOString() };
      const frame = JSON.stringify({ event: 'notification', data: notification });
      let reached = 0;
      for (const ws of wss.clients) {
        if (!matches(ws, to)) continue;
        ws.send(frame);
        reached++;
      }
      const target = to.userId !== undefined ? hub.toUser(to.userId) : hub.toTenant(to.tenantId ?? 'public');
      target.emit('notification', notification);
      return { ws: reached };
    },
  };
}
