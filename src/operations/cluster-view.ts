import type { BrokerLink } from '../cluster/broker.js';
import type { NodeReport } from './node-report.js';

/** How often a node tells the others about itself. */
/** The bus message a node's report travels in, to every other node. */
export type ReportMessage = { type: 'report'; report: NodeReport };

export const REPORT_INTERVAL_MS = 5_000;
/** A node not heard of for this long is gone (three reports missed); within the 30 s operators expect. */
export const NODE_EXPIRY_MS = 15_000;

/**
 * Every node of the cluster as its own reports tell it: each hub sends its report over the broker
 * every few seconds, from the moment its broker is ready, and keeps the others' latest, forgetting
 * a node whose reports stopped. The in-memory broker carries them between the hubs of one process,
 * Redis across processes.
 */
export class ClusterView {
  private readonly others = new Map<string, { report: NodeReport; heardAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly link: BrokerLink,
    private readonly own: () => NodeReport,
  ) {
    link.ready.then(
      () => {
        if (this.closed) return;
        this.send();
        this.timer = setInterval(() => this.send(), REPORT_INTERVAL_MS);
        this.timer.unref();
      },
      () => {
        // A broker that never came up: the hub says so itself (hub.ready()); nothing to report to.
      },
    );
  }

  /** A report from another node (the bus calls this). */
  heard(report: NodeReport): void {
    if (report.id === this.link.nodeId) return;
    this.others.set(report.id, { report, heardAt: Date.now() });
  }

  /** This node first, then the others heard of recently, by id. */
  nodes(now = Date.now()): NodeReport[] {
    for (const [id, { heardAt }] of this.others) if (now - heardAt > NODE_EXPIRY_MS) this.others.delete(id);
    const others = [...this.others.values()].map(({ report }) => report).sort((a, b) => a.id.localeCompare(b.id));
    return [this.own(), ...others];
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private send(): void {
    this.link.publish({ type: 'report', report: this.own() } satisfies ReportMessage);
  }
}
