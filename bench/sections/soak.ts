/**
 * The soak of bench/soak.ts at full length: many connect, join, send, close cycles against a hub
 * with rooms, users and a per-user policy, in its own process, then whether memory and listener
 * counts came back to where they started. The test suite runs a shortened one.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { bytes, num, type SectionResult, type Target } from '../report.js';

interface SoakReport {
  cycles: number;
  concurrency: number;
  finished: number;
  failed: number;
  seconds: number;
  heapGrowthBytes: number;
  rssGrowthBytes: number;
  heapBefore: number;
  heapAfter: number;
  listenersBefore: Record<string, number>;
  listenersAfter: Record<string, number>;
  openConnections: number;
  rooms: Record<string, number> | unknown;
  errors: number;
}

/** Heap after the soak may exceed the heap before it by this much: allocator and JIT noise, not a leak. */
export const SOAK_HEAP_GROWTH_LIMIT = 2 * 1024 * 1024;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function soakSection(context: Context): Promise<SectionResult> {
  const { config, log } = context;
  const report = await runSoak(config.soak.cycles, config.soak.concurrency, config.soak.timeLimitMs);
  log(
    `soak: ${report.finished} of ${report.cycles} cycles in ${num(report.seconds)} s, heap growth ${bytes(report.heapGrowthBytes)}`,
  );
  const listenersKept = JSON.stringify(report.listenersBefore) === JSON.stringify(report.listenersAfter);
  const heapKept = report.heapGrowthBytes <= SOAK_HEAP_GROWTH_LIMIT;
  const clean = report.failed === 0 && report.openConnections === 0 && report.finished === report.cycles;
  const met = heapKept && listenersKept && clean;
  const target: Target = {
    name: `soak, ${report.cycles.toLocaleString('en-US')} cycles`,
    wanted: `heap growth ≤ ${bytes(SOAK_HEAP_GROWTH_LIMIT)}, listeners unchanged, every cycle done, nothing left open`,
    measured: `heap ${bytes(report.heapGrowthBytes)}, listeners ${listenersKept ? 'unchanged' : 'changed'}, ${report.failed} failed, ${report.openConnections} open`,
    met,
    note: met ? undefined : 'see the soak table',
  };
  return {
    id: 'soak',
    tables: [
      {
        title: `Soak: ${report.cycles.toLocaleString('en-US')} connect, join, send, close cycles`,
        columns: [
          'cycles done',
          'failed',
          'seconds',
          'heap before',
          'heap after',
          'heap growth',
          'RSS growth',
          'listeners',
          'open after',
        ],
        rows: [
          [
            report.finished.toLocaleString('en-US'),
            String(report.failed),
            num(report.seconds),
            bytes(report.heapBefore),
            bytes(report.heapAfter),
            bytes(report.heapGrowthBytes),
            bytes(report.rssGrowthBytes),
            listenersKept ? 'unchanged' : `${JSON.stringify(report.listenersBefore)} → ${JSON.stringify(report.listenersAfter)}`,
            String(report.openConnections),
          ],
        ],
        notes: [
          `bench/soak.ts: a hub with an authenticated ws route, perUser max 1,000, every connection in a room, echoing; ` +
            `${report.concurrency} clients at once from a separate process, each connecting, sending, and closing. Heap and RSS ` +
            "after full collections, before (after a warm-up) and after the cycles; the server's listener counts too.",
        ],
      },
    ],
    targets: [target],
    data: report,
  };
}

function runSoak(cycles: number, concurrency: number, timeLimitMs: number): Promise<SoakReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        'bench/soak.ts',
        '--cycles',
        String(cycles),
        '--concurrency',
        String(concurrency),
        '--json',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeLimitMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = output.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(
          new Error(`bench/soak.ts ended with ${signal ?? `exit code ${code}`}${signal === 'SIGKILL' ? ' (time limit)' : ''}`),
        );
        return;
      }
      try {
        resolve(JSON.parse(line) as SoakReport);
      } catch {
        reject(new Error(`bench/soak.ts printed no report: ${line.slice(0, 200)}`));
      }
    });
  });
}
