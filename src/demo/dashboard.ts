import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Server } from 'socket.io';
import { namespacesOf } from '../adapters/socketio.js';
import { findings } from '../guard/findings.js';
import type { Switchboard } from '../switchboard.js';
import { publicDir } from './public-dir.js';

export interface FeedEntry {
  at: string;
  kind: 'accepted' | 'rejected' | 'chat' | 'notification' | 'whatsapp' | 'info';
  text: string;
}

export interface DashboardActions {
  notify(to: { userId?: string; tenantId?: string }, text: string): { ws: number };
  whatsappInbound(tenantId: string, text: string): void;
}

const FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/dashboard.js': 'dashboard.js',
  '/dashboard.css': 'dashboard.css',
};
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/**
 * The live dashboard: its page over plain HTTP, its state pushed over its own Socket.IO namespace
 * (`/dashboard`) twice a second when something changed, and the actions its buttons ask for.
 */
export class Dashboard {
  private readonly feed: FeedEntry[] = [];
  private readonly tenants = new Map<string, number>();
  private readonly files = new Map<string, Buffer>();
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '';

  constructor(
    private readonly hub: Switchboard,
    private readonly sockets: Server[],
  ) {
    const dir = publicDir();
    for (const file of new Set(Object.values(FILES))) this.files.set(file, readFileSync(path.join(dir, file)));
    hub.on('connection', ({ ctx, route }) => {
      const tenant = ctx.identity?.tenantId;
      if (tenant) this.tenants.set(tenant, (this.tenants.get(tenant) ?? 0) + 1);
      this.log('accepted', `${route.kind} ${ctx.path}${ctx.identity?.userId ? ` as ${ctx.identity.userId}` : ''}`);
    });
    hub.on('disconnect', ({ ctx }) => {
      const tenant = ctx.identity?.tenantId;
      if (!tenant) return;
      const left = (this.tenants.get(tenant) ?? 1) - 1;
      if (left > 0) this.tenants.set(tenant, left);
      else this.tenants.delete(tenant);
    });
    hub.on('reject', ({ status, path: where, reason }) => this.log('rejected', `${status} ${where}: ${reason}`));
  }

  /** Serves the page; returns false for requests that are not the dashboard's. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const pathname = new URL(req.url ?? '/', 'http://demo').pathname;
    if (pathname === '/api/state') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.state(), null, 2));
      return true;
    }
    const file = FILES[pathname];
    if (!file || req.method !== 'GET') return false;
    res.writeHead(200, { 'content-type': `${TYPES[path.extname(file)]}; charset=utf-8`, 'cache-control': 'no-cache' });
    res.end(this.files.get(file));
    return true;
  }

  /** Opens the `/dashboard` namespace of `io` and starts pushing state. */
  attach(io: Server, actions: DashboardActions): void {
    const nsp = io.of('/dashboard');
    nsp.on('connection', (socket) => {
      socket.emit('state', this.state());
      socket.on('notify', (request: { userId?: string; tenantId?: string; text?: string }, reply?: (answer: unknown) => void) => {
        const text = String(request?.text ?? '').slice(0, 200) || 'Hello!';
        const to = request?.userId ? { userId: String(request.userId) } : { tenantId: String(request?.tenantId ?? 'public') };
        const reached = actions.notify(to, text);
        this.log(
          'notification',
          `"${text}" to ${to.userId ? `user ${to.userId}` : `tenant ${to.tenantId}`} (${reached.ws} ws connections)`,
        );
        reply?.(reached);
      });
      socket.on('whatsapp', (request: { tenantId?: string; text?: string }) => {
        actions.whatsappInbound(
          String(request?.tenantId ?? 'acme'),
          String(request?.text ?? '').slice(0, 200) || 'Hi from WhatsApp',
        );
      });
    });
    this.timer = setInterval(() => {
      const state = this.state();
      const text = JSON.stringify({ ...state, at: undefined });
      if (text === this.lastSent) return;
      this.lastSent = text;
      nsp.emit('state', state);
    }, 500);
    this.timer.unref();
  }

  log(kind: FeedEntry['kind'], text: string): void {
    this.feed.unshift({ at: new Date().toISOString(), kind, text });
    if (this.feed.length > 40) this.feed.pop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  state() {
    return {
      at: new Date().toISOString(),
      routes: this.hub.routes(),
      stats: this.hub.stats(),
      namespaces: this.sockets.flatMap((io) =>
        namespacesOf(io)
          .filter((nsp) => nsp.name !== '/dashboard')
          .map((nsp) => ({ server: io.path(), name: nsp.name, sockets: nsp.sockets.size })),
      ),
      tenants: Object.fromEntries([...this.tenants].sort(([a], [b]) => a.localeCompare(b))),
      doctor: { routes: this.hub.routes(), findings: findings(), adopted: this.hub.adoptedListeners() },
      feed: this.feed,
    };
  }
}
