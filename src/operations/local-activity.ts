import { namespacesOf } from '../adapters/socketio.js';
import type { Hub } from '../hub/index.js';
import type { Realtime } from '../realtime/index.js';

/** What the node's reports read: the hub (routes, counters, connections) and its realtime layer. */
export type ReportingHub = Hub & { readonly realtime: Realtime };

/** What this node has seen since its hub started, beside the hub's own counters. */
export interface Activity {
  /** Open connections by tenant (tenants named by the routes' identity); the dashboard is not a metric, so ids are fine here. */
  tenants: Record<string, number>;
  /** Socket.IO sockets by server path and namespace. */
  namespaces: Array<{ path: string; namespace: string; sockets: number }>;
  /** Recipients a broadcast skipped or closed for not reading. */
  slowConsumers: { skipped: number; closed: number };
  /** Room messages published on this node. */
  published: number;
}

/** Counts per node what the hub does not keep itself: tenants, slow consumers, publishes. */
export class LocalActivity {
  private readonly tenants = new Map<string, number>();
  private readonly slow = { skipped: 0, closed: 0 };
  private published = 0;
  private readonly undo: Array<() => void> = [];

  constructor(private readonly hub: ReportingHub) {
    const opened = ({ ctx }: { ctx: { identity?: { tenantId?: string } } }) => {
      const tenant = ctx.identity?.tenantId;
      if (tenant !== undefined) this.tenants.set(tenant, (this.tenants.get(tenant) ?? 0) + 1);
    };
    const closed = ({ ctx }: { ctx: { identity?: { tenantId?: string } } }) => {
      const tenant = ctx.identity?.tenantId;
      if (tenant === undefined) return;
      const left = (this.tenants.get(tenant) ?? 1) - 1;
      if (left > 0) this.tenants.set(tenant, left);
      else this.tenants.delete(tenant);
    };
    hub.on('disconnect', closed);
    this.undo.push(
      () => hub.off('disconnect', closed),
      hub.realtime.observers.add({
        connected: opened,
        published: () => {
          this.published++;
        },
        delivered: ({ skipped, closed: shut }) => {
          this.slow.skipped += skipped;
          this.slow.closed += shut;
        },
      }),
    );
  }

  snapshot(): Activity {
    const namespaces: Activity['namespaces'] = [];
    for (const io of this.hub.realtime.ioServers) {
      const path = io.path();
      for (const nsp of namespacesOf(io)) namespaces.push({ path, namespace: nsp.name, sockets: nsp.sockets.size });
    }
    return {
      tenants: Object.fromEntries([...this.tenants].sort(([a], [b]) => a.localeCompare(b))),
      namespaces,
      slowConsumers: { ...this.slow },
      published: this.published,
    };
  }

  stop(): void {
    for (const undo of this.undo.splice(0)) undo();
  }
}
