/**
 * `switchboard/metrics`: the hub's Prometheus series on a prom-client registry (prom-client is an
 * optional peer, needed only by this entry).
 */
export { collectMetrics, type HubMetrics, type MetricsOptions } from './collect-metrics.js';
