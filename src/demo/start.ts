import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { switchboard } from '../switchboard.js';
import { Dashboard } from './dashboard.js';
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
 * in-memory defaults and a live dashboard at `/`.
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

  const chat = mountChat(hub);
  const notifications = mountNotifications(hub);
  const shop = mountShop(hub);
  const whatsapp = mountWhatsApp(hub, () => baseUrl);
  const graphql = await mountGraphQL(hub, chat.messages);
  dashboard = new Dashboard(hub, [shop, whatsapp.bridge]);
  const board = dashboard;
  board.attach(shop, {
    notify: (to, text) => notifications.notify(to, text),
    whatsappInbound: (tenantId, text) => whatsapp.sendInbound({ tenantId, text }),
  });
  chat.messages.on('message', (message) => board.log('chat', `${message.from}: ${message.text}`));
  if (!graphql) board.log('info', 'GraphQL endpoint skipped: npm install graphql graphql-ws to enable it');

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `ws://127.0.0.1:${port}`;
  whatsapp.start();
  const url = `http://${options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'}:${port}`;

  log(`Switchboard demo on ${url}  (dashboard at /)`);
  for (const route of hub.routes())
    log(`  ${route.kind.padEnd(9)} ${route.pattern}${route.protocol ? `  (protocol ${route.protocol})` : ''}`);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      whatsapp.stop();
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
