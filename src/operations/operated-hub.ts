import type { ClusterView } from './cluster-view.js';
import type { ReportingHub } from './local-activity.js';

/** A room's member as the dashboard shows it (what `hub.presence(room)` gives). */
export interface ShownMember {
  userId: string;
  tenantId?: string;
  connections: number;
}

/**
 * What the dashboard needs of the hub it is mounted on, beside the reports': presence (which it
 * shows, not owns), `disconnectUser`, and the reports every node sends.
 */
export type OperatedHub = ReportingHub & {
  readonly nodeReports: { readonly view: ClusterView };
  presence(room: string): Promise<ShownMember[]>;
  presenceCount(room: string): Promise<number>;
  disconnectUser(userId: string | number, reason?: string): void;
};
