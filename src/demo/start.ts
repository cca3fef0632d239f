import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { switchboard } from '../switchboard.js';
import { Dashboard, type SkippedService } from './dashboard.js';
import { ifMissing } from './if-missing.js';
import { installHint } from './install-hint.js';
import { mountChat } from './services/chat.js';
import { mountGraphQL } from './services/graphql.js';
import { mountNotifications } from './services/notifications.js';
import { mountShop } from './services/shop.js';
import { mountWhatsApp } from './services/whatsapp.js';

export interface DemoOptions {
  port?: number;
  host?: string;
  /** Where start-up lines go; `false` for none. */
  log?: ((line: string) => void) | false;
  /** Close gracefully on SIGTERM/SIGINT (the CLI does; tests do not). */
  handleSignals?: boolean;
}

export interface RunningDemo {
  url: string;
  port: number;
  server: http.Server;
  hub: ReturnType<typeof switchboard>;
  close(): Promise<void>;
}

/**
 * Every kind of real-time service from the failure reports, on one HTTP server and one port, with
 * in-memory defaults and a live dashboard at `/`. Only `ws` is required: a service whose packages
 * are not installed is skipped, and the terminal and the dashboard say which and how to add it.
 */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const log = options.log === false ? () => {} : (options.log ?? ((line: string) => console.log(line)));
  let dashboard: Dashboard | undefined;
  const server = http.createServer((req, res) => {
    if (dashboard?.serve(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Not found. The dashboard is at /\n');
  });
  const hub = switchboard(server);
  let baseUrl = '';

  const socketIO = await import('socket.io').catch(ifMissing);
  const chat = mountChat(hub);
  const notifications = mountNotifications(hub);
  const shop = socketIO && mountShop(hub);
  const whatsapp = socketIO && mountWhatsApp(hub, socketIO.Server, () => baseUrl);
  const graphql = await mountGraphQL(hub, chat.messages);
  // The product's operations page, as any app mounts it: here for whoever runs the demo on this
  // machine (loopback clients), with its one action enabled.
  hub.dashboard('/_switchboard', {
    authenticate: (req) => (isLoopback(req.socket.remoteAddress) ? { userId: 'local operator' } : null),
    readonly: false,
  });

  const skipped: SkippedService[] = [];
  if (!socketIO) {
    skipped.push({
      service: 'the Socket.IO storefront and the WhatsApp bridge',
      paths: ['/socket.io/', '/whatsapp/socket.io/'],
      packages: ['socket.io'],
    });
  }
  if (!graphql) skipped.push({ service: 'GraphQL subscriptions', paths: ['/graphql'], packages: ['graphql', 'graphql-ws'] });
  const install = skipped.length ? installHint(skipped.flatMap((each) => each.packages)) : undefined;

  dashboard = new Dashboard(hub, {
    sockets: shop && whatsapp ? [shop, whatsapp.bridge] : [],
    actions: {
      notify: (to, text) => notifications.notify(to, text),
      ...(whatsapp && { whatsappInbound: (tenantId: string, text: string) => whatsapp.sendInbound({ tenantId, text }) }),
    },
    skipped,
    ...(install && { install }),
  });
  const board = dashboard;
  if (shop) board.attach(shop);
  chat.messages.on('message', (message) => board.log('chat', `${message.from}: ${message.text}`));
  for (const each of skipped) board.log('info', `Skipped ${each.service} (${each.packages.join(', ')} not installed)`);
  if (install) board.log('info', `To add them: ${install}`);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `ws://127.0.0.1:${port}`;
  whatsapp?.start();
  const url = `http://${options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'}:${port}`;

  log(`Switchboard demo on ${url}  (dashboard at /, operations page at /_switchboard)`);
  for (const route of hub.routes())
    log(`  ${route.kind.padEnd(9)} ${route.pattern}${route.protocol ? `  (protocol ${route.protocol})` : ''}`);
  for (const each of skipped)
    log(`  skipped   ${each.paths.join(', ')}  (${each.service}: ${each.packages.join(', ')} not installed)`);
  if (install) log(`  To add them: ${install}`);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      whatsapp?.stop();
      board.stop();
      await hub.close({ reason: 'demo shutting down' });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
    return closing;
  };
  if (options.handleSignals) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        log(`${signal}: closing connections (code 1001) and stopping`);
        close().then(() => process.exit(0));
      });
    }
  }
  return { url, port, server, hub, close };
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
