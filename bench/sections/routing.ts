/**
 * Routing cost as routes grow, timed in-process (no I/O): 1, 100, 1,000 and 10,000 routes of each
 * kind (exact, parameter, prefix), every lookup hitting a registered route. Two figures: the
 * router's `RouteTable.match` alone, and the hub's lookup per handshake (parse the request target,
 * then match), against the `new URL()` + comparison of the `ws` README's routing.
 */
import type { Context } from '../context.js';
import { loadRequestTarget, loadRouter } from '../library.js';
import { cell, num, ratioCell, type SectionResult, type Target } from '../report.js';
import { summarize } from '../stats.js';

type Kind = 'exact' | 'param' | 'prefix';
const KINDS: Kind[] = ['exact', 'param', 'prefix'];
export const ROUTING_TARGET = 1.1;
/** Distinct request paths cycled through per table (fewer when there are fewer routes). */
const DISTINCT_PATHS = 4096;

interface FakeRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * A route and a request path it takes, for route number `index` of each kind. Numbers have a fixed
 * width: with `/service-7/ws` against `/service-9999/ws`, larger tables would be timed on longer
 * paths, and hashing and splitting cost grows with length.
 */
function routeOf(kind: Kind, index: number): { pattern: string; path: string } {
  const n = String(index).padStart(5, '0');
  switch (kind) {
    case 'exact':
      return { pattern: `/service-${n}/ws`, path: `/service-${n}/ws` };
    case 'param':
      return { pattern: `/rooms-${n}/:id`, path: `/rooms-${n}/room-42` };
    case 'prefix':
      return { pattern: `/files-${n}/*`, path: `/files-${n}/a/b` };
  }
}

export async function routingSection(context: Context): Promise<SectionResult> {
  const { config, log } = context;
  const { RouteTable } = await loadRouter();
  const { parseRequestTarget, isBadTarget } = await loadRequestTarget();
  type Table = InstanceType<typeof RouteTable<number>>;
  type Parse = typeof parseRequestTarget;

  interface Case {
    kind: Kind;
    size: number;
    match: (iterations: number) => number;
    hot: (iterations: number) => number;
    lookup: (iterations: number) => number;
  }

  const cases: Case[] = [];
  for (const kind of KINDS) {
    for (const size of config.routing.sizes) {
      const table: Table = new RouteTable<number>();
      for (let index = 0; index < size; index++) table.add({ pattern: routeOf(kind, index).pattern }, index);
      // Spread the lookups over the whole table: with many routes, a real server's requests do not all hit one.
      const count = Math.min(size, DISTINCT_PATHS);
      const step = Math.max(1, Math.floor(size / count));
      const paths = Array.from({ length: DISTINCT_PATHS }, (_, slot) => routeOf(kind, ((slot % count) * step) % size).path);
      const inputs = paths.map((path) => ({ path, host: '127.0.0.1', protocols: [] as string[] }));
      // The same table asked for one path only: what changes with the table's size and nothing else.
      const hotPath = routeOf(kind, Math.floor(size / 2)).path;
      const hotInputs = paths.map(() => ({ path: hotPath, host: '127.0.0.1', protocols: [] as string[] }));
      const requests: FakeRequest[] = paths.map((path) => ({ url: `${path}?user=ann`, headers: { host: '127.0.0.1:8080' } }));
      for (const input of inputs)
        if (table.match(input)?.value === undefined) throw new Error(`routing: ${input.path} unmatched`);
      cases.push({
        kind,
        size,
        match: (iterations) => timeMatch(table, inputs, iterations),
        hot: (iterations) => timeMatch(table, hotInputs, iterations),
        lookup: (iterations) => timeLookup(table, parseRequestTarget, isBadTarget, requests, iterations),
      });
    }
  }
  const readmeRequests: FakeRequest[] = [{ url: '/chat?user=ann', headers: { host: '127.0.0.1:8080' } }];
  const readme = (iterations: number) => timeReadme(readmeRequests, iterations);

  const iterations = config.routing.iterations;
  // Warm-up: every case compiled and its inline caches settled before anything is timed.
  for (const entry of cases) {
    entry.match(iterations);
    entry.hot(iterations);
    entry.lookup(iterations);
  }
  readme(iterations);

  const matchNs = new Map<Case, number[]>(cases.map((entry) => [entry, []]));
  const hotNs = new Map<Case, number[]>(cases.map((entry) => [entry, []]));
  const lookupNs = new Map<Case, number[]>(cases.map((entry) => [entry, []]));
  const readmeNs: number[] = [];
  for (let round = 0; round < config.rounds.routing; round++) {
    // Interleaved: a slow moment of the machine falls on every size alike, not on one.
    for (const entry of cases) {
      matchNs.get(entry)?.push(entry.match(iterations));
      hotNs.get(entry)?.push(entry.hot(iterations));
      lookupNs.get(entry)?.push(entry.lookup(iterations));
    }
    readmeNs.push(readme(iterations));
    log(`routing round ${round + 1}/${config.rounds.routing} done`);
  }

  const rows: string[][] = [];
  const targets: Target[] = [];
  for (const kind of KINDS) {
    const ofKind = cases.filter((entry) => entry.kind === kind);
    const base = ofKind[0];
    for (const entry of ofKind) {
      const match = matchNs.get(entry) ?? [];
      const lookup = lookupNs.get(entry) ?? [];
      const hot = hotNs.get(entry) ?? [];
      const matchRatio = perRoundRatio(match, matchNs.get(base as Case) ?? []);
      const hotRatio = perRoundRatio(hot, hotNs.get(base as Case) ?? []);
      const lookupRatio = perRoundRatio(lookup, lookupNs.get(base as Case) ?? []);
      rows.push([
        kind,
        entry.size.toLocaleString('en-US'),
        cell(summarize(match)),
        ratioCell(matchRatio),
        cell(summarize(hot)),
        ratioCell(hotRatio),
        cell(summarize(lookup)),
        ratioCell(lookupRatio),
      ]);
      if (kind === 'exact' && entry === ofKind[ofKind.length - 1] && entry !== base) {
        const met = matchRatio.median <= ROUTING_TARGET;
        targets.push({
          name: `routing, ${entry.size.toLocaleString('en-US')} exact routes`,
          wanted: `match time ≤ ${ROUTING_TARGET} × 1 route`,
          measured: `${ratioCell(matchRatio)} (one hot path: ${ratioCell(hotRatio)}; lookup per handshake: ${ratioCell(lookupRatio)})`,
          met,
          note: met
            ? undefined
            : `over by ${((matchRatio.median - ROUTING_TARGET) * 100).toFixed(0)} points with requests spread over 4,096 paths; ` +
              `asked for one path, the same 10,000-route table takes ${hotRatio.median.toFixed(2)}× the time of one route: the ` +
              'lookup does not grow with the table, the spread requests miss the CPU caches',
        });
      }
    }
  }
  const readmeSummary = summarize(readmeNs);
  rows.push(['ws README: new URL() + ===', '2', '', '', '', '', cell(readmeSummary), '']);
  const exactLargest = cases.filter((entry) => entry.kind === 'exact').at(-1);
  const lookupLargest = summarize(lookupNs.get(exactLargest as Case) ?? []).median;
  context.shared.lookupNsLargestExact = lookupLargest;
  const notes = [
    `${config.rounds.routing} rounds of ${iterations.toLocaleString('en-US')} lookups per case, cases interleaved; ns per lookup, ` +
      'median (min–max); "× 1 route" is the paired ratio to the same kind with one route.',
    '"spread": lookups cycle through different registered paths; "one hot path": the same table asked for one path only, so ' +
      'that only the size of the table differs from the one-route case. "lookup per handshake" is spread. ' +
      `Lookups cycle through up to ${DISTINCT_PATHS.toLocaleString('en-US')} different registered paths per table. Exact: ` +
      '`/service-NNNNN/ws`; parameter: `/rooms-NNNNN/:id`; prefix: `/files-NNNNN/*` (requests `/files-NNNNN/a/b`, three ' +
      'prefix probes); fixed-width numbers, so every table is timed on paths of the same length.',
    '"lookup per handshake" = parseRequestTarget (path, query, host, sub-protocols, refusal of ambiguous targets) + match: ' +
      "what the hub does before a route's checks. The README row is the ws documentation's by-hand routing, for scale.",
  ];
  const hubCpu = context.shared.hubCpuUsPerHandshake;
  if (hubCpu !== undefined && Number.isFinite(hubCpu)) {
    notes.push(
      `With ${exactLargest?.size.toLocaleString('en-US')} exact routes a lookup takes ${num(lookupLargest)} ns, ` +
        `${((lookupLargest / 1000 / hubCpu) * 100).toFixed(2)}% of the hub's ${num(hubCpu)} µs of server CPU per handshake (64 clients).`,
    );
  }
  return {
    id: 'routing',
    tables: [
      {
        title: 'Routing cost as routes grow (in-process, ns per lookup)',
        columns: [
          'kind',
          'routes',
          'match ns (spread)',
          '× 1 route',
          'match ns (one hot path)',
          '× 1 route',
          'lookup per handshake ns',
          '× 1 route',
        ],
        rows,
        notes,
      },
    ],
    targets,
    data: {
      cases: cases.map((entry) => ({
        kind: entry.kind,
        size: entry.size,
        matchNs: matchNs.get(entry),
        lookupNs: lookupNs.get(entry),
      })),
      readmeNs,
    },
  };

  function timeLookup(table: Table, parse: Parse, isBad: typeof isBadTarget, requests: FakeRequest[], count: number): number {
    const mask = requests.length - 1;
    let hits = 0;
    const started = process.hrtime.bigint();
    for (let index = 0; index < count; index++) {
      const target = parse(requests[index & mask] as never);
      if (!isBad(target) && table.match(target) !== undefined) hits++;
    }
    const elapsed = Number(process.hrtime.bigint() - started);
    if (hits !== count) throw new Error('routing: a lookup missed');
    return elapsed / count;
  }
}

function timeMatch(
  table: { match(input: { path: string; host?: string; protocols?: readonly string[] }): unknown },
  inputs: { path: string; host: string; protocols: string[] }[],
  count: number,
): number {
  const mask = inputs.length - 1;
  let hits = 0;
  const started = process.hrtime.bigint();
  for (let index = 0; index < count; index++)
    if (table.match(inputs[index & mask] as (typeof inputs)[number]) !== undefined) hits++;
  const elapsed = Number(process.hrtime.bigint() - started);
  if (hits !== count) throw new Error('routing: a match missed');
  return elapsed / count;
}

function timeReadme(requests: FakeRequest[], count: number): number {
  let hits = 0;
  const started = process.hrtime.bigint();
  for (let index = 0; index < count; index++) {
    const { pathname } = new URL((requests[0] as FakeRequest).url, 'wss://base.url');
    if (pathname === '/chat') hits++;
    else if (pathname === '/notifications/ws') hits--;
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  if (hits !== count) throw new Error('routing: the README routing missed');
  return elapsed / count;
}

function perRoundRatio(values: number[], base: number[]) {
  return summarize(values.map((value, index) => value / (base[index] ?? Number.NaN)));
}
