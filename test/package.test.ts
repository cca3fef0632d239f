import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { nextMessage, open } from './helpers.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, unknown>;
};

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

/** The version of a package this repository has installed, so that the new app's install is served from npm's cache. */
function installed(name: string): string {
  return `${name}@${JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version}`;
}

describe('the packed package, installed in a new app with only ws', () => {
  let tmp = '';
  let app = '';
  let tarball = '';
  let files: string[] = [];

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-package-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(tmp, packed!.filename);
    files = packed!.files.map((file) => file.path);

    app = path.join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'new-app', private: true, type: 'module' }));
    cpSync(fileURLToPath(new URL('./fixtures/new-app/', import.meta.url)), app, { recursive: true });
    // The README's install line, plus what a TypeScript app adds; @types/node for node:http.
    const packages = [tarball, installed('ws'), installed('@types/ws'), installed('@types/node'), installed('typescript')];
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...packages], { cwd: app });
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the licence, the README, the builds and the demo page, and nothing only the repository uses', () => {
    for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts']) {
      assert.ok(files.includes(file), `ships ${file}`);
    }
    assert.ok(files.includes('src/demo/public/index.html'));
    const unwanted = files.filter(
      (file) =>
        file === 'dist/cli/index.cjs' ||
        /^dist\/(cli|demo)\/.*\.d\.c?ts$/.test(file) ||
        /^dist\/demo\/.*\.cjs$/.test(file) ||
        file.startsWith('dist/client/shared-worker.cjs') ||
        (file.startsWith('src/') && !file.startsWith('src/demo/public/')),
    );
    assert.deepEqual(unwanted, []);
    assert.ok(!files.some((file) => file.startsWith('dist/client/shared-worker') && /chunk/.test(file)));
  });

  it('typechecks a strict app (skipLibCheck off) that uses the root API, without socket.io installed', async () => {
    const tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((error) => error);
    assert.equal(result.code ?? 0, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
  });

  it('prints its version', async () => {
    const { stdout } = await run('npx', ['--no-install', 'switchboard', '--version'], { cwd: app });
    assert.equal(stdout.trim(), manifest.version);
  });

  it('runs the demo with only ws: the ws services run, and it says which it skipped and how to add them', async () => {
    // A process group of its own, so that npx and the demo under it stop together.
    const demo = spawn('npx', ['--no-install', 'switchboard', 'demo', '--port', '0'], { cwd: app, detached: true });
    try {
      const output = await linesUntil(demo, /To add them: (.+)/);
      const port = Number(/Switchboard demo on http:\/\/[^:]+:(\d+)/.exec(output)?.[1]);
      assert.ok(port > 0, output);
      assert.match(output, /skipped\s+\/socket\.io\/, \/whatsapp\/socket\.io\/.*socket\.io not installed/);
      assert.match(output, /skipped\s+\/graphql .*graphql, graphql-ws not installed/);
      assert.match(output, /To add them: npm install socket\.io graphql graphql-ws$/m);

      const base = `http://127.0.0.1:${port}`;
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Switchboard/);
      const state = (await (await fetch(`${base}/api/state`)).json()) as {
        routes: Array<{ pattern: string }>;
        missing: string[];
        install: string;
      };
      assert.deepEqual(
        state.routes.map((route) => route.pattern),
        ['/chat', '/notifications/ws', '/_switchboard', '/_switchboard/*'],
      );
      assert.deepEqual(state.missing, ['socket.io', 'graphql', 'graphql-ws']);
      assert.equal(state.install, 'npm install socket.io graphql graphql-ws');

      // The ws services answer, and the dashboard's actions work without Socket.IO.
      const chat = await open(`ws://127.0.0.1:${port}/chat?user=ann&tenant=acme`);
      assert.equal(JSON.parse(await nextMessage(chat)).event, 'welcome');
      const notify = await fetch(`${base}/api/notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'ann', text: 'shipped' }),
      });
      assert.deepEqual(await notify.json(), { ws: 1 });
      assert.equal(JSON.parse(await nextMessage(chat)).data.text, 'shipped');
      chat.close();
    } finally {
      if (demo.exitCode === null) {
        process.kill(-demo.pid!, 'SIGTERM');
        await once(demo, 'exit');
      }
    }
  });

  it('bundles every entry with esbuild without a warning, the package linked as a workspace would be', async () => {
    // esbuild keeps quiet about packages inside node_modules, so the package is linked from
    // outside it, as in a workspace or with npm link, where a user sees every warning.
    const linked = path.join(tmp, 'linked');
    mkdirSync(path.join(linked, 'node_modules'), { recursive: true });
    cpSync(path.join(app, 'node_modules', 'switchboard'), path.join(tmp, 'package'), { recursive: true });
    symlinkSync(path.join(tmp, 'package'), path.join(linked, 'node_modules', 'switchboard'), 'dir');

    const browser = new Set(['./client', './client/socketio', './client/shared-worker', './react']);
    const sideEffectsOnly = new Set(['./register', './client/shared-worker']);
    const warnings: string[] = [];
    for (const format of ['esm', 'cjs'] as const) {
      for (const platform of ['node', 'browser'] as const) {
        const entryPoints: string[] = [];
        for (const subpath of Object.keys(manifest.exports)) {
          if (subpath === './package.json' || (platform === 'browser') !== browser.has(subpath)) continue;
          // The worker is an ES module script; nothing requires it.
          if (format === 'cjs' && subpath === './client/shared-worker') continue;
          const specifier = `switchboard${subpath.slice(1)}`;
          const file = path.join(linked, `${format}-${subpath.slice(2).replaceAll('/', '-') || 'root'}.js`);
          const code = sideEffectsOnly.has(subpath)
            ? format === 'esm'
              ? `import '${specifier}';`
              : `require('${specifier}');`
            : format === 'esm'
              ? `import * as entry from '${specifier}';\nconsole.log(entry);`
              : `console.log(require('${specifier}'));`;
          writeFileSync(file, code);
          entryPoints.push(file);
        }
        const result = await build({
          entryPoints,
          absWorkingDir: linked,
          bundle: true,
          write: false,
          outdir: path.join(linked, 'out'),
          format,
          platform,
          logLevel: 'silent',
          // Peers stay the app's own: only Switchboard is bundled.
          plugins: [
            {
              name: 'peers-external',
              setup(bundler) {
                bundler.onResolve({ filter: /^[^./]/ }, (args) =>
                  args.path === 'switchboard' || args.path.startsWith('switchboard/')
                    ? undefined
                    : { path: args.path, external: true },
                );
              },
            },
          ],
        });
        for (const warning of result.warnings) {
          warnings.push(`${format}/${platform}: ${warning.text} (${warning.location?.file}:${warning.location?.line})`);
        }
      }
    }
    assert.deepEqual(warnings, []);
  });

  it('passes publint and arethetypeswrong', async () => {
    const result = await run('npm', ['run', '--silent', 'check:package'], { cwd: ROOT }).catch((error) => error);
    assert.equal(result.code ?? 0, 0, `${result.stdout}${result.stderr}`);
  });
});

/** Collects a child's stdout until a line matches `pattern`; rejects if it exits first. */
function linesUntil(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    let errors = '';
    child.stderr?.on('data', (chunk) => {
      errors += chunk;
    });
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      if (pattern.test(output)) resolve(output);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${pattern}:\n${output}${errors}`)));
  });
}
