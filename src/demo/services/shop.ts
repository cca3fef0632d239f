import type { Server } from 'socket.io';
import type { Switchboard } from '../../switchboard.js';
import { demoAuthenticate } from '../identity.js';

/**
 * The shared Socket.IO server: a storefront on the default namespace, `/admin` and `/seller`,
 * each socket in its user's and tenant's rooms. The `/dashboard` namespace is the dashboard's.
 */
export function mountShop(hub: Switchboard): Server {
  const io = hub.io(undefined, { authenticate: demoAuthenticate });
  io.on('connection', (socket) => {
    socket.emit('welcome', { namespace: '/', user: socket.data.userId, tenant: socket.data.tenantId });
    socket.on('ping-shop', (reply?: (answer: string) => void) => reply?.('pong from the storefront'));
  });
  io.of('/admin').on('connection', (socket) => {
    socket.emit('welcome', { namespace: '/admin', user: socket.data.userId, tenant: socket.data.tenantId });
    socket.on('broadcast', (text: string) => io.of('/').emit('announcement', { text: String(text).slice(0, 200) }));
  });
  io.of('/seller').on('connection', (socket) => {
    socket.emit('welcome', { namespace: '/seller', user: socket.data.userId, tenant: socket.data.tenantId });
    socket.on('order', (order: unknown) => hub.toTenant(socket.data.tenantId, { namespace: '/admin' }).emit('order', order));
  });
  return io;
}
