/**
 * Echo round trips through a hub route against a bare `ws` server: once a connection is open, is
 * anything of the hub still in the way of its messages?
 */
import type { Context } from '../context.js';
import type { EchoResult } from '../load/echo.js';
import { cell, num, percent, ratioCell, type SectionResult, type Target } from '../report.js';
import type { VariantName } from '../servers/variants.js';
import { pairedRatios, summarize } from '../stats.js';
import { leastDisturbed, rotate, startServer, timedJob } from './session.js';

export interface EchoRound extends EchoResult {
  cpuUsPerMessage: number;
  serverBusy: number;
  foreign: number;
}

export const ECHO_TARGET = 0.99;

export async function echoSection(context: Context): Promise<SectionResult> {
  const { config, load, log } = context;
  const variants: VariantName[] = ['hub', 'bare-ws'];
  const rounds = new Map<VariantName, EchoRound[]>(variants.map((variant) => [variant, []]));
  for (let round = 0; round < config.rounds.echo; round++) {
    for (const variant of rotate(variants, round)) {
      const server = await startServer(variant);
      try {
        const job = { url: server.wsUrl, ...config.echo };
        const timed = await leastDisturbed(() => timedJob<EchoResult>(server, load, 'echo', job), context.retries);
        const entry: EchoRound = {
          ...timed.result,
          cpuUsPerMessage: timed.serverCpuUs / timed.result.roundTrips,
          serverBusy: timed.serverBusy,
          foreign: timed.foreign,
        };
        rounds.get(variant)?.push(entry);
        log(
          `echo r${round + 1} ${variant}: ${num(entry.perSecond)} round trips/s, p50 ${num(entry.p50)} ms, p99 ${num(entry.p99)} ms, ` +
            `${num(entry.cpuUsPerMessage)} µs CPU/msg, busy ${percent(entry.serverBusy)}, foreign ${entry.foreign.toFixed(2)} cores`,
        );
      } finally {
        await server.child.kill();
      }
    }
  }

  const hub = rounds.get('hub') ?? [];
  const bare = rounds.get('bare-ws') ?? [];
  const rate = (entries: EchoRound[]) => entries.map((entry) => entry.perSecond);
  const cpu = (entries: EchoRound[]) => entries.map((entry) => entry.cpuUsPerMessage);
  const row = (label: string, entries: EchoRound[], versus?: EchoRound[]) => [
    label,
    cell(summarize(rate(entries))),
    versus ? ratioCell(pairedRatios(rate(hub), rate(versus))) : '',
    cell(summarize(entries.map((entry) => entry.p50))),
    cell(summarize(entries.map((entry) => entry.p99))),
    cell(summarize(cpu(entries))),
    versus ? ratioCell(pairedRatios(cpu(hub), cpu(versus))) : '',
    percent(summarize(entries.map((entry) => entry.serverBusy)).median),
    num(Math.max(...entries.map((entry) => entry.foreign))),
  ];
  const ratio = pairedRatios(rate(hub), rate(bare));
  const cpuRatio = pairedRatios(cpu(hub), cpu(bare));
  const met = ratio.n === 0 ? undefined : ratio.median >= ECHO_TARGET;
  const target: Target = {
    name: 'echo throughput',
    wanted: `hub ≥ ${ECHO_TARGET} × bare ws`,
    measured: ratioCell(ratio),
    met,
    note:
      met === false
        ? `short by ${((ECHO_TARGET - ratio.median) * 100).toFixed(1)} points; server CPU per message ${cpuRatio.median.toFixed(3)}× bare ws ` +
          '(see the notes of the echo table)'
        : undefined,
  };
  return {
    id: 'echo',
    tables: [
      {
        title: `Echo: ${config.echo.connections} connections, one ${config.echo.payloadBytes}-byte message in flight each`,
        columns: [
          'server',
          'round trips/s',
          'hub ÷ this',
          'p50 ms',
          'p99 ms',
          'CPU µs/message',
          'hub ÷ this',
          'server busy',
          'foreign cores',
        ],
        rows: [row('hub ws route', hub), row('bare ws (README routing)', bare, bare)],
        notes: [
          `${config.rounds.echo} rounds, alternating which server goes first; ${config.echo.warmupMs} ms warm-up, ` +
            `${config.echo.measureMs} ms measured. A round trip is a text message to the server and its echo back.`,
        ],
      },
    ],
    targets: [target],
    data: Object.fromEntries(rounds),
  };
}
