/**
 * `npm run bench`: Switchboard side by side with what users would pick instead, in one run.
 *
 *   node --import tsx bench/run.ts [--quick] [--json] [--write-results] [--only=routing,handshake,...]
 *                                  [--source] [--handshake-client=ws]
 *
 * --quick            small counts and short windows (CI smoke, well under a minute)
 * --json             the results as JSON on stdout (progress stays on stderr)
 * --write-results    also writes the tables into bench/RESULTS.md, between its generated-section markers
 * --only=a,b         only these sections: routing, handshake, echo, guard, metrics, memory, fanout, continuity, presence, bus, soak, ceiling;
 *                    and scale (100,000 connections over several processes), which runs only when named
 * --source           load Switchboard from src/ through tsx instead of its esbuild build (see build-library.ts)
 * --handshake-client=ws   use `ws` clients for the handshake load instead of the raw-socket client
 *
 * Servers and their load run in separate processes (pinned to separate cores when taskset exists);
 * all traffic goes to 127.0.0.0/8; every child is killed however the run ends, and a hard time
 * limit ends the run if anything hangs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildLibrary, LIBRARY_ENV } from './build-library.js';
import { killAll, pinningAvailable } from './children.js';
import { type Config, FULL, QUICK } from './config.js';
import type { Context } from './context.js';
import { librarySource } from './library.js';
import { type Meta, renderMarkdown, renderTerminal, type SectionResult, toJson } from './report.js';
import { busSection } from './sections/bus.js';
import { ceilingSection, fdLimit } from './sections/ceiling.js';
import { continuitySection } from './sections/continuity.js';
import { echoSection } from './sections/echo.js';
import { fanoutSection } from './sections/fanout.js';
import { guardSection } from './sections/guard.js';
import { handshakeSection } from './sections/handshake.js';
import { memorySection } from './sections/memory.js';
import { metricsSection } from './sections/metrics.js';
import { presenceSection } from './sections/presence.js';
import { routingSection } from './sections/routing.js';
import { scaleSection } from './sections/scale.js';
import { startLoad } from './sections/session.js';
import { soakSection } from './sections/soak.js';

const SECTIONS = {
  // Routing first, in-process, while no other bench process runs.
  routing: routingSection,
  handshake: handshakeSection,
  echo: echoSection,
  guard: guardSection,
  metrics: metricsSection,
  memory: memorySection,
  fanout: fanoutSection,
  continuity: continuitySection,
  presence: presenceSection,
  bus: busSection,
  soak: soakSection,
  // Last: it fills the server to its limits.
  ceiling: ceilingSection,
  // Only when asked for (--only=scale): minutes, and most of the machine.
  scale: scaleSection,
} satisfies Record<string, (context: Context) => Promise<SectionResult>>;
type SectionName = keyof typeof SECTIONS;

const RESULTS_PATH = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const BEGIN = '<!-- bench:generated:begin -->';
const END = '<!-- bench:generated:end -->';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);

const known = ['quick', 'json', 'write-results', 'source', 'only', 'handshake-client'];
for (const arg of args) {
  const name = arg.replace(/^--/, '').split('=')[0] ?? '';
  if (!arg.startsWith('--') || !known.includes(name)) {
    process.stderr.write(`bench: unknown argument ${arg}; known: ${known.map((entry) => `--${entry}`).join(' ')}\n`);
    process.exit(2);
  }
}

const config: Config = flag('quick') ? QUICK : FULL;
const OPT_IN = new Set(['scale']);
const only = option('only')?.split(',') ?? Object.keys(SECTIONS).filter((name) => !OPT_IN.has(name));
for (const name of only) {
  if (!(name in SECTIONS)) {
    process.stderr.write(`bench: unknown section ${name}; sections: ${Object.keys(SECTIONS).join(', ')}\n`);
    process.exit(2);
  }
}
const handshakeClient = option('handshake-client') === 'ws' ? 'ws' : 'raw';
const startedAt = performance.now();
const elapsed = () => (performance.now() - startedAt) / 1000;
const log = (line: string) => process.stderr.write(`[bench ${elapsed().toFixed(0).padStart(3)} s] ${line}\n`);

// However the run ends, no child outlives it.
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
const hardLimit = setTimeout(() => {
  log(`hard time limit of ${config.hardLimitMs / 1000} s reached: stopping`);
  killAll();
  process.exit(3);
}, config.hardLimitMs);
hardLimit.unref();

async function main(): Promise<void> {
  if (!flag('source')) {
    process.env[LIBRARY_ENV] = await buildLibrary();
    log(`Switchboard built from src/ into ${process.env[LIBRARY_ENV]}`);
  }
  const load = await startLoad();
  const context: Context = {
    config,
    load,
    log,
    retries: { ...config.retries, spentMs: 0 },
    handshakeClient,
    shared: {},
  };
  const results: SectionResult[] = [];
  const failed: string[] = [];
  for (const name of Object.keys(SECTIONS) as SectionName[]) {
    if (!only.includes(name)) continue;
    log(`section ${name}`);
    try {
      results.push(await SECTIONS[name](context));
    } catch (error) {
      // One section failing must not cost the figures of the others; the failure is reported instead.
      const message = error instanceof Error ? error.message : String(error);
      log(`section ${name} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
      failed.push(name);
      results.push({
        id: name,
        tables: [{ title: `${name}: FAILED`, columns: ['error'], rows: [[message.split('\n')[0] ?? message]], notes: [] }],
        targets: [],
        data: { error: message },
      });
    }
  }
  await load.kill();

  const meta: Meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: `node --import tsx bench/run.ts${args.length > 0 ? ` ${args.join(' ')}` : ''}`,
    mode: config.mode,
    node: process.version,
    cpus: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    ulimit: fdLimit(),
    pinned: pinningAvailable(),
    library: librarySource(),
    handshakeClient,
    durationSeconds: elapsed(),
  };
  if (flag('json')) process.stdout.write(`${toJson(meta, results)}\n`);
  else process.stdout.write(`\n${renderTerminal(meta, results)}\n`);
  if (flag('write-results')) {
    writeResults(renderMarkdown(meta, results));
    log(`tables written to ${RESULTS_PATH}`);
  }
  if (failed.length > 0) throw new Error(`section(s) failed: ${failed.join(', ')}`);
}

/** Replaces the generated part of RESULTS.md, keeping the hand-written reading around it. */
function writeResults(markdown: string): void {
  let text: string;
  try {
    text = readFileSync(RESULTS_PATH, 'utf8');
  } catch {
    text = `# Benchmark results\n\n${BEGIN}\n${END}\n`;
  }
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const generated = `${BEGIN}\n${markdown}\n${END}`;
  text =
    begin === -1 || end === -1
      ? `${text.trimEnd()}\n\n${generated}\n`
      : text.slice(0, begin) + generated + text.slice(end + END.length);
  writeFileSync(RESULTS_PATH, text);
}

main().then(
  () => {
    clearTimeout(hardLimit);
    process.exit(0);
  },
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAll();
    process.exit(1);
  },
);
