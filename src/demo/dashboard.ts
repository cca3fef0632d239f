import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Server } from 'socket.io';
import { namespacesOf } from '../adapters/socketio.js';
import { findings } from '../guard/findings.js';
import type { Switchboard } from '../switchboard.js';
import { OnlineView } from './online.js';
import { publicDir } from './public-dir.js';

export interface FeedEntry {
  at: string;
  kind: 'accepted' | 'rejected' | 'chat' | 'notification' | 'whatsapp' | 'info';
  text: string;
}

export interface DashboardActions {
  notify(to: { userId?: string; tenantId?: string }, text: string): { ws: number };
  /** Absent when the WhatsApp bridge is not running. */
  whatsappInbound?(tenantId: string, text: string): void;
}

/** A service of the demo that is not running because its packages are not installed. */
export interface SkippedService {
  service: string;
  paths: string[];
  packages: string[];
}

export interface DashboardOptions {
  /** The Socket.IO servers whose namespaces the dashboard lists. */
  sockets: Server[];
  actions: DashboardActions;
  skipped: SkippedService[];
  /** The command that adds the skipped services. */
  install?: string;
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
 * (`/dashboard`) twice a second when something changed, and the actions its buttons ask for. Where
 * socket.io is not installed the page reads the same state from `/api/state` and posts its actions
 * to `/api/notify`.
 */
export class Dashboard {
  private readonly feed: FeedEntry[] = [];
  private readonly tenants = new Map<string, number>();
  private readonly files = new Map<string, Buffer>();
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '';
  private readonly online: OnlineView;

  constructor(
    private readonly hub: Switchboard,
    private readonly options: DashboardOptions,
  ) {
    this.online = new OnlineView(hub, options.sockets);
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
    if (pathname === '/api/notify' && req.method === 'POST') {
      readJson(req).then(
        (request) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(this.notify(request)));
        },
        () => {
          res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('Expected a JSON body: { "userId" or "tenantId", "text" }\n');
        },
      );
      return true;
    }
    const file = FILES[pathname];
    if (!file || req.method !== 'GET') return false;
    res.writeHead(200, { 'content-type': `${TYPES[path.extname(file)]}; charset=utf-8`, 'cache-control': 'no-cache' });
    res.end(this.files.get(file));
    return true;
  }

  /** Opens the `/dashboard` namespace of `io` and starts pushing state. */
  attach(io: Server): void {
    const nsp = io.of('/dashboard');
    nsp.on('connection', (socket) => {
      socket.emit('state', this.state());
      socket.on('notify', (request: NotifyRequest | undefined, reply?: (answer: unknown) => void) => {
        reply?.(this.notify(request));
      });
      socket.on('whatsapp', (request: { tenantId?: string; text?: string }) => {
        this.options.actions.whatsappInbound?.(
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

  private notify(request: NotifyRequest | undefined): { ws: number } {
    const text = String(request?.text ?? '').slice(0, 200) || 'Hello!';
    const to = request?.userId ? { userId: String(request.userId) } : { tenantId: String(request?.tenantId ?? 'public') };
    const reached = this.options.actions.notify(to, text);
    this.log(
      'notification',
      `"${text}" to ${to.userId ? `user ${to.userId}` : `tenant ${to.tenantId}`} (${reached.ws} ws connections)`,
    );
    return reached;
  }

  log(kind: FeedEntry['kind'], text: string): void {
    this.feed.unshift({ at: new Date().toISOString(), kind, text });
    if (this.feed.length > 40) this.feed.pop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  state() {
    this.online.refresh([...this.tenants.keys()].sort());
    return {
      online: this.online.current(),
      at: new Date().toISOString(),
      routes: this.hub.routes(),
      stats: this.hub.stats(),
      namespaces: this.options.sockets.flatMap((io) =>
        namespacesOf(io)
          .filter((nsp) => nsp.name !== '/dashboard')
          .map((nsp) => ({ server: io.path(), name: nsp.name, sockets: nsp.sockets.size })),
      ),
      tenants: Object.fromEntries([...this.tenants].sort(([a], [b]) => a.localeCompare(b))),
      doctor: { routes: this.hub.routes(), findings: findings(), adopted: this.hub.adoptedListeners() },
      skipped: this.options.skipped,
      missing: [...new Set(this.options.skipped.flatMap((skipped) => skipped.packages))],
      install: this.options.install,
      feed: this.feed,
    };
  }
}

interface NotifyRequest {
  userId?: string;
  tenantId?: string;
  text?: string;
}

/** A small JSON request body; anything over 4 KiB or not JSON is refused. */
function readJson(req: IncomingMessage): Promise<NotifyRequest | undefined> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 4096) {
        reject(new Error('body too large'));
        req.destroy();
      }
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(body || '{}'));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}
