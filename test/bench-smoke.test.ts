import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `npm run bench -- --quick --json`: what it prints, and whether it stopped by itself. */
function runQuickBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The sections of a default run, in their order (scale runs only when asked for). */
const SECTIONS = [
  'routing',
  'handshake',
  'echo',
  'guard',
  'metrics',
  'memory',
  'fanout',
  'continuity',
  'presence',
  'bus',
  'soak',
  'ceiling',
];

// Durations are never asserted: the bench's figures belong to bench/RESULTS.md. This checks that
// the bench runs from a clean checkout, measures every section, and reports every target.
describe('npm run bench (quick run)', () => {
  it('runs every section against its alternatives and reports each target with a verdict', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runQuickBench();
    assert.equal(code, 0, stderr.slice(-2_000));
    const report = JSON.parse(stdout) as {
      meta: { mode: string; library: string };
      targets: { section: string; name: string; met: boolean | null }[];
      sections: Record<string, { tables: { title: string; rows: string[][] }[] }>;
    };
    assert.equal(report.meta.mode, 'quick');
    assert.equal(report.meta.library, 'build');
    assert.deepEqual(Object.keys(report.sections), SECTIONS);
    for (const [id, section] of Object.entries(report.sections)) {
      assert.ok(section.tables.length > 0, `${id} has no table`);
      for (const table of section.tables) {
        assert.doesNotMatch(table.title, /FAILED/, `${id}: ${JSON.stringify(table.rows)}`);
        assert.ok(table.rows.length > 0, `${id}: "${table.title}" has no rows`);
      }
    }
    const sectionsWithTargets = new Set(report.targets.map((target) => target.section));
    // The ceiling reports how far it got, not a target.
    for (const id of SECTIONS.filter((section) => section !== 'ceiling')) {
      assert.ok(sectionsWithTargets.has(id), `no target reported for ${id}`);
    }
    for (const target of report.targets) {
      assert.equal(typeof target.met, 'boolean', `target "${target.name}" was not measured`);
    }
  });
});
