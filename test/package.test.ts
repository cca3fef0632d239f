import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

describe('the built package', () => {
  it('serves ESM and CommonJS from dist, and both builds share one hub per server', () => {
    const file = fileURLToPath(new URL('./fixtures/dual-package.cjs', import.meta.url));
    const output = execFileSync(process.execPath, [file], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(output), {
      same: true,
      listeners: 1,
      routes: ['/from-cjs'],
      layers: ['object', 'object', 'object'],
      routeTable: 'function',
    });
  });

  it('exports the names of the API contract from its ESM build', async () => {
    // Through the package's own name and exports map, as a user imports it (a runtime name keeps
    // the type checker from needing dist/ before the build).
    const name = 'switchboard';
    const api = (await import(name)) as Record<string, unknown>;
    for (const name of ['switchboard', 'Switchboard', 'Hub', 'SwitchboardError', 'contextOf']) {
      assert.ok(name in api, `exports ${name}`);
    }
  });
});
