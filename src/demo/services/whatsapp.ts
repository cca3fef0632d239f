import type { Server } from 'socket.io';
import { WebSocket } from 'ws';
import { tenantRoom } from '../../realtime/index.js';
import type { Switchboard } from '../../switchboard.js';
import { demoAuthenticate } from '../identity.js';

export interface InboundMessage {
  tenantId: string;
  from: string;
  text: string;
  at: string;
}

const SAMPLE_SENDERS = ['+49 151 0000001', '+34 600 000 002', '+1 415 000 0003'];
const SAMPLE_TEXTS = ['Is my order on its way?', 'Do you ship to Lisbon?', 'Thanks, it arrived!', 'Can I change the size?'];

/**
 * A messaging-provider bridge: a second, independent Socket.IO server on `/whatsapp/socket.io`,
 * fed by a `ws` client connected upstream to the provider, relaying each inbound message into the
 * tenant's room. The provider itself is simulated by a `ws` route on the same hub
 * (`/simulated-provider`), which sends a message now and then and on demand. `SocketIOServer` is
 * socket.io's `Server`, loaded by the demo only where socket.io is installed.
 */
export function mountWhatsApp(hub: Switchboard, SocketIOServer: typeof Server, baseUrl: () => string) {
  const bridge = hub.socketio(new SocketIOServer({ path: '/whatsapp/socket.io' }), { authenticate: demoAuthenticate });
  bridge.on('connection', (socket) => socket.emit('welcome', { tenant: socket.data.tenantId }));

  const provider = hub.ws(
    '/simulated-provider',
    {},
    { authenticate: (req) => (req.headers['x-provider-key'] === 'demo' ? { userId: 'provider' } : null) },
  );
  const sendInbound = (message: Partial<InboundMessage> & { tenantId: string }) => {
    const inbound: InboundMessage = {
      from: message.from ?? pick(SAMPLE_SENDERS),
      text: message.text ?? pick(SAMPLE_TEXTS),
      at: new Date().toISOString(),
      tenantId: message.tenantId,
    };
    for (const upstream of provider.clients) upstream.send(JSON.stringify(inbound));
  };

  const relayed: InboundMessage[] = [];
  let upstream: WebSocket | undefined;
  let stopped = false;
  const connectUpstream = () => {
    if (stopped) return;
    upstream = new WebSocket(`${baseUrl()}/simulated-provider`, { headers: { 'x-provider-key': 'demo' } });
    upstream.on('message', (data) => {
      const message = JSON.parse(String(data)) as InboundMessage;
      relayed.push(message);
      if (relayed.length > 50) relayed.shift();
      bridge.to(tenantRoom(message.tenantId)).emit('inbound', message);
    });
    upstream.on('error', () => {});
    // A real bridge reconnects to its provider; so does this one.
    upstream.on('close', () => setTimeout(connectUpstream, 1_000).unref());
  };
  const ticker = setInterval(() => sendInbound({ tenantId: pick(['acme', 'globex']) }), 15_000);
  ticker.unref();

  return {
    bridge,
    start: connectUpstream,
    sendInbound,
    stop() {
      stopped = true;
      clearInterval(ticker);
      upstream?.close();
    },
  };
}

function pick<T>(values: readonly T[]): T {
  return values[Math.floor(Math.random() * values.length)] as T;
}
