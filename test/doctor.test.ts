import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs, parseDuration } from '../src/cli/args.js';

const cli = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const legacy = (name: string) => `test/fixtures/legacy/${name}`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('switchboard doctor', () => {
  it('prints the route map with call sites and exits 0 for an app without conflicts', async () => {
    const { code, stdout } = await run(['doctor', legacy('ws-catch-all-beside-socketio.mjs')]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /server 127\.0\.0\.1:\d+/);
    assert.match(stdout, /\/\*\s+ws\s+test\/fixtures\/legacy\/ws-catch-all-beside-socketio\.mjs:8:\d+\s+0/);
    assert.match(stdout, /\/socket\.io\/\*\s+socket\.io\s+test\/fixtures\/legacy\/ws-catch-all-beside-socketio\.mjs:7:\d+/);
    assert.match(stdout, /No conflict\./);
  });

  it('shows a merge as a warning, still exiting 0', async () => {
    const { code, stdout } = await run(['doctor', legacy('socketio-two-servers.cjs')]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /Warnings \(1\)/);
    assert.match(stdout, /socketio-two-servers\.cjs:6:\d+\n\s+test\/fixtures\/legacy\/socketio-two-servers\.cjs:7:\d+/);
  });

  for (const [file, summary, lines] of [
    ['ws-same-path.cjs', /two ws servers on "\/chat"/, [6, 7]],
    ['two-raw-listeners.cjs', /two raw 'upgrade' listeners/, [8, 9]],
  ] as const) {
    it(`reports the conflict of ${file} with both call sites and exits 1`, async () => {
      const { code, stdout } = await run(['doctor', legacy(file)]);
      assert.equal(code, 1, stdout);
      assert.match(stdout, /Conflicts \(1\)/);
      assert.match(stdout, summary);
      for (const line of lines) assert.match(stdout, new RegExp(`${file.replace('.', '\\.')}:${line}:\\d+`));
      assert.match(stdout, /1 conflict\./);
    });
  }

  it('prints the same facts as JSON with --json', async () => {
    const { code, stdout } = await run(['doctor', '--json', legacy('ws-same-path.cjs')]);
    assert.equal(code, 1);
    const report = JSON.parse(stdout);
    assert.equal(report.conflicts, 1);
    assert.equal(report.servers.length, 1);
    assert.deepEqual(
      report.servers[0].routes.map((route: { pattern: string; kind: string }) => [route.pattern, route.kind]),
      [['/chat', 'ws']],
    );
    assert.equal(report.findings[0].parties.length, 2);
  });

  it('exits 2 and shows the output of an app that exits before listening', async () => {
    const { code, stdout } = await run(['doctor', legacy('exits-early.cjs')]);
    assert.equal(code, 2);
    assert.match(stdout, /exited with code 3 before any of its servers listened/);
    assert.match(stdout, /missing DATABASE_URL/);
  });

  it('exits 2 when no server listens within --timeout', async () => {
    const { code, stdout } = await run(['doctor', legacy('never-listens.cjs'), '--timeout', '500ms']);
    assert.equal(code, 2);
    assert.match(stdout, /no server .* was listening after 500 ms/);
  });

  it('passes arguments after -- to the app, and refuses bad ones with the usage', async () => {
    assert.deepEqual(parseArgs(['doctor', 'app.js', '--json', '--', '--port', '1']), {
      command: 'doctor',
      app: 'app.js',
      appArgs: ['--port', '1'],
      json: true,
      timeoutMs: 10_000,
    });
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('soon'), undefined);
    const { code, stderr } = await run(['doctor', '--timeout', 'soon', 'app.js']);
    assert.equal(code, 2);
    assert.match(stderr, /--timeout needs a duration/);
    assert.match(stderr, /Usage:/);
  });
});
