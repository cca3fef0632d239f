import { ClusterView, type ReportMessage } from './cluster-view.js';
import { LocalActivity, type ReportingHub } from './local-activity.js';
import { nodeReport } from './node-report.js';

/**
 * Every hub tells the others about itself (a report every 5 s over its broker) and keeps theirs,
 * whether or not it mounts a dashboard: so that a dashboard on any node, an admin node included,
 * shows every node of the cluster. The first report goes once the broker is ready.
 */
export class NodeReports {
  /** What this node has seen since it started, beside the hub's own counters. */
  readonly activity: LocalActivity;
  /** Every node of the cluster, this one first. */
  readonly view: ClusterView;
  private readonly stopHearing: () => void;

  constructor(hub: ReportingHub) {
    const link = hub.realtime.link;
    this.activity = new LocalActivity(hub);
    this.view = new ClusterView(link, () => nodeReport(hub, link.nodeId, hub.realtime.brokerIsUp, this.activity.snapshot()));
    this.stopHearing = hub.realtime.bus.on<ReportMessage>('report', (message) => this.view.heard(message.report));
  }

  stop(): void {
    this.view.close();
    this.activity.stop();
    this.stopHearing();
  }
}
