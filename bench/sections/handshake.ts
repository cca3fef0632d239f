/**
 * Handshake rate, latency and server CPU time per handshake, with 1, 64 and 512 clients
 * connecting at once: the hub's `ws` route against the same `ws` server routed by hand, against
 * @fastify/websocket and against crossws. Each round runs every server once, in a rotated order.
 */
import type { Context } from '../context.js';
import type { HandshakeResult } from '../load/handshakes.js';
import { cell, num, percent, ratioCell, type SectionResult, type Table, type Target } from '../report.js';
import type { VariantName } from '../servers/variants.js';
import { pairedRatios, summarize } from '../stats.js';
import { leastDisturbed, rotate, startServer, timedJob } from './session.js';

export interface HandshakeRound extends HandshakeResult {
  cpuUsPerHandshake: number;
  serverBusy: number;
  foreign: number;
  attempts: number;
}

const LABELS: Partial<Record<VariantName, string>> = {
  hub: 'hub ws route',
  'bare-ws': 'bare ws (README routing)',
  'fastify-websocket': '@fastify/websocket',
  crossws: 'crossws (node adapter)',
  'hub-10k-routes': 'hub + 10,000 exact routes',
};

export const ALTERNATIVES: VariantName[] = ['bare-ws', 'fastify-websocket', 'crossws'];
export const RATE_TARGET = 0.97;

export async function handshakeSection(context: Context): Promise<SectionResult> {
  const { config, load, log } = context;
  const variants: VariantName[] = ['hub', ...ALTERNATIVES];
  if (config.handshake.withLargeTable) variants.push('hub-10k-routes');
  // rounds[variant][concurrency] = one entry per round
  const rounds = new Map<VariantName, Map<number, HandshakeRound[]>>(
    variants.map((variant) => [variant, new Map(config.handshake.concurrency.map((clients) => [clients, []]))]),
  );

  for (let round = 0; round < config.rounds.handshake; round++) {
    for (const variant of rotate(variants, round)) {
      const server = await startServer(variant);
      try {
        for (const clients of config.handshake.concurrency) {
          const job = {
            url: server.wsUrl,
            concurrency: clients,
            warmupMs: config.handshake.warmupMs,
            measureMs: config.handshake.measureMs,
            client: context.handshakeClient,
          };
          const timed = await leastDisturbed(() => timedJob<HandshakeResult>(server, load, 'handshake', job), context.retries);
          const entry: HandshakeRound = {
            ...timed.result,
            cpuUsPerHandshake: timed.serverCpuUs / timed.result.handshakes,
            serverBusy: timed.serverBusy,
            foreign: timed.foreign,
            attempts: timed.attempts,
          };
          rounds.get(variant)?.get(clients)?.push(entry);
          log(
            `handshake r${round + 1} ${variant} c=${clients}: ${num(entry.perSecond)}/s p50 ${num(entry.p50)} ms ` +
              `p99 ${num(entry.p99)} ms, ${num(entry.cpuUsPerHandshake)} µs CPU, busy ${percent(entry.serverBusy)}, ` +
              `foreign ${entry.foreign.toFixed(2)} cores${entry.attempts > 1 ? ` (${entry.attempts} attempts)` : ''}`,
          );
        }
      } finally {
        await server.child.kill();
      }
    }
  }

  const get = (variant: VariantName, clients: number) => rounds.get(variant)?.get(clients) ?? [];
  const rows: string[][] = [];
  const targets: Target[] = [];
  for (const clients of config.handshake.concurrency) {
    const hub = get('hub', clients);
    for (const variant of variants) {
      const entries = get(variant, clients);
      const versusHub = variant === 'hub-10k-routes';
      const subject = versusHub ? entries : hub;
      const base = versusHub ? hub : entries;
      const rateRatio = variant === 'hub' ? undefined : pairedRatios(rates(subject), rates(base));
      const cpuRatio = variant === 'hub' ? undefined : pairedRatios(cpu(subject), cpu(base));
      rows.push([
        String(clients),
        LABELS[variant] ?? variant,
        cell(summarize(rates(entries))),
        rateRatio ? `${ratioCell(rateRatio)}${versusHub ? ' ÷hub' : ''}` : '',
        cell(summarize(entries.map((entry) => entry.p50))),
        cell(summarize(entries.map((entry) => entry.p99))),
        cell(summarize(cpu(entries))),
        cpuRatio ? `${ratioCell(cpuRatio)}${versusHub ? ' ÷hub' : ''}` : '',
        percent(summarize(entries.map((entry) => entry.serverBusy)).median),
        num(Math.max(...entries.map((entry) => entry.foreign))),
        errorsText(entries),
      ]);
    }
    const ratio = pairedRatios(rates(hub), rates(get('bare-ws', clients)));
    const cpuRatio = pairedRatios(cpu(hub), cpu(get('bare-ws', clients)));
    const met = ratio.n === 0 ? undefined : ratio.median >= RATE_TARGET;
    targets.push({
      name: `handshake rate, ${clients} client${clients === 1 ? '' : 's'}`,
      wanted: `hub ≥ ${RATE_TARGET} × bare ws`,
      measured: ratioCell(ratio),
      met,
      note:
        met === false
          ? `short by ${((RATE_TARGET - ratio.median) * 100).toFixed(0)} points; the hub spends ${cpuRatio.median.toFixed(2)}× ` +
            'the CPU time of bare ws per handshake (see the notes of the handshake table)'
          : undefined,
    });
  }

  const hubCpu = summarize(cpu(get('hub', 64).length > 0 ? get('hub', 64) : get('hub', config.handshake.concurrency[0] ?? 1)));
  context.shared.hubCpuUsPerHandshake = hubCpu.median;

  const table: Table = {
    title: 'Handshakes: rate, latency and server CPU time per handshake',
    columns: [
      'clients',
      'server',
      'handshakes/s',
      'hub ÷ this',
      'p50 ms',
      'p99 ms',
      'CPU µs/handshake',
      'hub ÷ this',
      'server busy',
      'foreign cores',
      'errors',
    ],
    rows,
    notes: [
      `${config.rounds.handshake} rounds, each running every server once in a rotated order; median (min–max) of the rounds. ` +
        `Ratios are of paired rounds; "hub ÷ this" > 1 means the hub is faster (rate) or costs more (CPU).`,
      `Each round: ${config.handshake.warmupMs} ms warm-up, then ${config.handshake.measureMs} ms measured. A client connects, ` +
        'waits for the complete 101 (checking Sec-WebSocket-Accept), drops the connection and connects again.',
      "CPU µs/handshake is the server process's user + system time in the window divided by the handshakes: unlike the " +
        'rate, it does not depend on whether the server or the load set the pace ("server busy" near 100% means the server did).',
      '"foreign cores": CPU used by other processes on the machine during the window (a disturbed window is measured again).',
    ],
  };
  return {
    id: 'handshake',
    tables: [table],
    targets,
    data: Object.fromEntries([...rounds].map(([k, v]) => [k, Object.fromEntries(v)])),
  };
}

function rates(entries: readonly HandshakeRound[]): number[] {
  return entries.map((entry) => entry.perSecond);
}

function cpu(entries: readonly HandshakeRound[]): number[] {
  return entries.map((entry) => entry.cpuUsPerHandshake);
}

function errorsText(entries: readonly HandshakeRound[]): string {
  const total: Record<string, number> = {};
  for (const entry of entries) for (const [code, count] of Object.entries(entry.errors)) total[code] = (total[code] ?? 0) + count;
  const parts = Object.entries(total).map(([code, count]) => `${code}×${count}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}
