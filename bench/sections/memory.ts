/**
 * Memory per idle connection: the server process (started with --expose-gc) reports its memory
 * after full collections, before and after the load opens N idle connections; per connection is
 * the difference over N. The hub against bare `ws`, and the hub's Socket.IO against Socket.IO on
 * its own.
 */
import type { BenchChild } from '../children.js';
import type { Context } from '../context.js';
import { bytes, cell, type SectionResult, type Target } from '../report.js';
import type { VariantName } from '../servers/variants.js';
import { summarize } from '../stats.js';
import { holdConnections, rotate, startServer } from './session.js';
import { until } from './wait.js';

export interface MemoryRound {
  heapPerConnection: number;
  externalPerConnection: number;
  rssPerConnection: number;
  opened: number;
}

export const MEMORY_TARGET_BYTES = 1024;

const PAIRS: [VariantName, VariantName, string][] = [
  ['hub', 'bare-ws', 'ws'],
  ['socketio-hub', 'socketio-bare', 'Socket.IO'],
  // Not a comparison with another library: what a user id costs, and presence's share of it.
  ['hub-users', 'hub-users-quiet', 'users'],
];
const LABELS: Partial<Record<VariantName, string>> = {
  hub: 'hub ws route',
  'bare-ws': 'bare ws (README routing)',
  'socketio-hub': 'hub.io() (Socket.IO through the hub)',
  'socketio-bare': 'Socket.IO attached by itself',
  'hub-users': 'hub ws route, each connection a user (presence on)',
  'hub-users-quiet': 'hub ws route, each connection a user, presence: false',
};

export async function memorySection(context: Context): Promise<SectionResult> {
  const { config, load, log } = context;
  const variants: VariantName[] = [];
  for (const [subject, alternative] of PAIRS) variants.push(subject, alternative);
  // results[count][variant] = rounds
  const results = new Map<number, Map<VariantName, MemoryRound[]>>();
  for (const count of config.memory.counts) {
    results.set(count, new Map(variants.map((variant) => [variant, []])));
    for (let round = 0; round < config.rounds.memory; round++) {
      for (const variant of rotate(variants, round)) {
        const entry = await measureOnce(context, load, variant, count);
        results.get(count)?.get(variant)?.push(entry);
        log(
          `memory r${round + 1} ${variant} ${count}: heap ${bytes(entry.heapPerConnection)}, external ${bytes(entry.externalPerConnection)}, ` +
            `rss ${bytes(entry.rssPerConnection)} per connection (${entry.opened} opened)`,
        );
      }
    }
  }

  const rows: string[][] = [];
  const targets: Target[] = [];
  for (const [count, byVariant] of results) {
    for (const [subject, alternative, kind] of PAIRS) {
      const subjectRounds = byVariant.get(subject) ?? [];
      const alternativeRounds = byVariant.get(alternative) ?? [];
      const heapDelta = difference(subjectRounds, alternativeRounds, (entry) => entry.heapPerConnection);
      const rssDelta = difference(subjectRounds, alternativeRounds, (entry) => entry.rssPerConnection);
      for (const [variant, entries, isSubject] of [
        [subject, subjectRounds, true],
        [alternative, alternativeRounds, false],
      ] as const) {
        rows.push([
          count.toLocaleString('en-US'),
          LABELS[variant] ?? variant,
          cell(summarize(entries.map((entry) => entry.heapPerConnection)), bytes),
          cell(summarize(entries.map((entry) => entry.externalPerConnection)), bytes),
          cell(summarize(entries.map((entry) => entry.rssPerConnection)), bytes),
          isSubject ? '' : signed(heapDelta),
          isSubject ? '' : signed(rssDelta),
        ]);
      }
      if (kind === 'ws') {
        const worst = Math.max(heapDelta, rssDelta);
        const met = Number.isFinite(worst) ? worst <= MEMORY_TARGET_BYTES : undefined;
        targets.push({
          name: `memory per connection, ${count.toLocaleString('en-US')} connections`,
          wanted: `hub within ${MEMORY_TARGET_BYTES} B of bare ws`,
          measured: `heap ${signed(heapDelta)}, RSS ${signed(rssDelta)}`,
          met,
          note:
            met === false
              ? `over by ${bytes(worst - MEMORY_TARGET_BYTES)}; see the notes of the memory table for what the hub keeps per connection`
              : undefined,
        });
      }
    }
  }
  return {
    id: 'memory',
    tables: [
      {
        title: 'Memory per idle connection (server process, after full GC)',
        columns: ['connections', 'server', 'heap/conn', 'external/conn', 'RSS/conn', 'hub − this (heap)', 'hub − this (RSS)'],
        rows,
        notes: [
          `${config.rounds.memory} rounds per count, servers in a rotated order, a fresh server process each time; median (min–max).`,
          `Before the baseline, ${config.memory.warmupConnections} connections are opened and closed, so that code and pools ` +
            'that every connection shares are not counted as per-connection memory.',
          'heap = V8 heapUsed, external = memory of Buffers and other off-heap objects, RSS = resident set size. RSS moves in ' +
            'pages and with the allocator, so it is the noisier of the figures. Socket.IO clients use the websocket transport.',
          'The last pair is the hub route with every connection a user of its own (its user room, its request scope): ' +
            'against the anonymous "hub ws route" it shows what an identity costs, and its "hub − this" is what presence adds.',
        ],
      },
    ],
    targets,
    data: Object.fromEntries([...results].map(([count, byVariant]) => [count, Object.fromEntries(byVariant)])),
  };
}

async function measureOnce(context: Context, load: BenchChild, variant: VariantName, count: number): Promise<MemoryRound> {
  const server = await startServer(variant, { gc: true });
  try {
    // Warm-up connections, opened and closed: lazily loaded code and shared pools belong to the baseline.
    await holdConnections(load, server, context.config.memory.warmupConnections);
    await load.request('release');
    await until(async () => (await server.child.request<number>('connections')) === 0, 15_000);
    const before = await server.child.request<NodeJS.MemoryUsage>('memory');
    const held = await holdConnections(load, server, count);
    const settled = await until(async () => (await server.child.request<number>('connections')) >= held.opened, 30_000);
    if (!settled) context.log(`memory ${variant}: the server saw fewer connections than the load opened`);
    const open = await server.child.request<number>('connections');
    const after = await server.child.request<NodeJS.MemoryUsage>('memory', undefined, 60_000);
    return {
      heapPerConnection: (after.heapUsed - before.heapUsed) / open,
      externalPerConnection: (after.external - before.external) / open,
      rssPerConnection: (after.rss - before.rss) / open,
      opened: open,
    };
  } finally {
    // The server goes first: its side closes the connections, so the clients keep no TIME_WAIT.
    await server.child.kill();
    await load.request('release');
  }
}

/** Median of the paired per-round differences subject − alternative. */
function difference(subject: MemoryRound[], alternative: MemoryRound[], pick: (entry: MemoryRound) => number): number {
  const deltas = subject.map((entry, index) => {
    const other = alternative[index];
    return other ? pick(entry) - pick(other) : Number.NaN;
  });
  return summarize(deltas).median;
}

function signed(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return `${value >= 0 ? '+' : '−'}${bytes(Math.abs(value))}`;
}
