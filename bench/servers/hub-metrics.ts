/** The hub server of bench/servers/hub.ts with `collectMetrics` on: the difference is the metrics' cost. */
import { loadMetrics } from '../library.js';
import type { BenchServer } from './contract.js';
import { start as startHub } from './hub.js';

export async function start(): Promise<BenchServer> {
  const { collectMetrics } = await loadMetrics();
  const bench = await startHub((hub) => collectMetrics(hub));
  return bench;
}
