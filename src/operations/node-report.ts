import os from 'node:os';
import type { Hub, HubStats, RouteInfo } from '../hub/index.js';
import type { Activity } from './local-activity.js';

/** What one node says of itself on the dashboard, and to the other nodes. */
export interface NodeReport {
  /** The hub's broker node id: unique per hub and process. */
  id: string;
  host: string;
  pid: number;
  uptimeSeconds: number;
  routes: RouteInfo[];
  stats: HubStats;
  brokerUp: boolean;
  activity: Activity;
  /** Milliseconds since the epoch when the report was made. */
  at: number;
}

export function nodeReport(hub: Hub, id: string, brokerUp: boolean, activity: Activity): NodeReport {
  return {
    id,
    host: os.hostname(),
    pid: process.pid,
    uptimeSeconds: Math.round(process.uptime()),
    routes: hub.routes(),
    stats: hub.stats(),
    brokerUp,
    activity,
    at: Date.now(),
  };
}
