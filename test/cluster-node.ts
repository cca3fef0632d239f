import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startApp } from './helpers.js';

export const CLUSTER_NODE = fileURLToPath(new URL('./fixtures/cluster/node.ts', import.meta.url));

/**
 * One hub process of fixtures/cluster/node.ts (a hub on Redis with the rooms tests' routes), with
 * its addresses and `do(action, params)`, which drives it over HTTP and returns its JSON answer.
 */
export async function startClusterNode(env: Record<string, string>) {
  const app = await startApp(CLUSTER_NODE, { nodeArgs: ['--import', 'tsx'], env });
  assert.ok(app.port, app.output());
  const base = `http://127.0.0.1:${app.port}`;
  return {
    ...app,
    base,
    ws: `ws://127.0.0.1:${app.port}`,
    async do<T = unknown>(action: string, params: Record<string, string> = {}): Promise<T> {
      const response = await fetch(`${base}/?${new URLSearchParams({ action, ...params })}`);
      return (await response.json()) as T;
    },
  };
}
