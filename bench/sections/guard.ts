/**
 * The guard's cost: the same legacy app (`new WebSocketServer({ server, path })`), run as it is and
 * under `--import switchboard/register`, which makes its ws server a hub route. Cost per handshake
 * and per message, in rate and in server CPU time.
 */
import type { Context } from '../context.js';
import type { EchoResult } from '../load/echo.js';
import type { HandshakeResult } from '../load/handshakes.js';
import { cell, num, ratioCell, type SectionResult } from '../report.js';
import { pairedRatios, summarize } from '../stats.js';
import { leastDisturbed, rotate, startServer, timedJob } from './session.js';

interface GuardRound {
  handshakesPerSecond: number;
  handshakeP99: number;
  cpuUsPerHandshake: number;
  echoPerSecond: number;
  echoP99: number;
  cpuUsPerMessage: number;
  foreign: number;
}

const HANDSHAKE_CLIENTS = 64;

export async function guardSection(context: Context): Promise<SectionResult> {
  const { config, load, log } = context;
  const modes = ['without', 'with'] as const;
  const rounds: Record<(typeof modes)[number], GuardRound[]> = { without: [], with: [] };
  for (let round = 0; round < config.rounds.guard; round++) {
    for (const mode of rotate(modes, round)) {
      const server = await startServer('legacy-app', { guard: mode === 'with' });
      try {
        // The figures mean nothing unless the guard really took over the app's ws server (and only then).
        if (server.ready.hub !== (mode === 'with')) {
          throw new Error(`legacy app ${mode} the guard: expected ${mode === 'with' ? 'a hub' : 'no hub'} on its server`);
        }
        const handshake = await leastDisturbed(
          () =>
            timedJob<HandshakeResult>(server, load, 'handshake', {
              url: server.wsUrl,
              concurrency: HANDSHAKE_CLIENTS,
              warmupMs: config.handshake.warmupMs,
              measureMs: config.handshake.measureMs,
              client: context.handshakeClient,
            }),
          context.retries,
        );
        const echo = await leastDisturbed(
          () => timedJob<EchoResult>(server, load, 'echo', { url: server.wsUrl, ...config.echo }),
          context.retries,
        );
        const entry: GuardRound = {
          handshakesPerSecond: handshake.result.perSecond,
          handshakeP99: handshake.result.p99,
          cpuUsPerHandshake: handshake.serverCpuUs / handshake.result.handshakes,
          echoPerSecond: echo.result.perSecond,
          echoP99: echo.result.p99,
          cpuUsPerMessage: echo.serverCpuUs / echo.result.roundTrips,
          foreign: Math.max(handshake.foreign, echo.foreign),
        };
        rounds[mode].push(entry);
        log(
          `guard r${round + 1} ${mode}: ${num(entry.handshakesPerSecond)} handshakes/s (${num(entry.cpuUsPerHandshake)} µs CPU), ` +
            `${num(entry.echoPerSecond)} round trips/s (${num(entry.cpuUsPerMessage)} µs CPU), foreign ${entry.foreign.toFixed(2)} cores`,
        );
      } finally {
        await server.child.kill();
      }
    }
  }

  const measure = (label: string, pick: (entry: GuardRound) => number, cost: boolean) => {
    const without = rounds.without.map(pick);
    const withGuard = rounds.with.map(pick);
    const delta = summarize(withGuard.map((value, index) => value - (without[index] ?? Number.NaN)));
    return [
      label,
      cell(summarize(without)),
      cell(summarize(withGuard)),
      ratioCell(pairedRatios(withGuard, without)),
      cost ? `${delta.median >= 0 ? '+' : ''}${num(delta.median)} µs` : '',
    ];
  };
  return {
    id: 'guard',
    tables: [
      {
        title: 'Guard: the same legacy app without and with `--import switchboard/register`',
        columns: ['measure', 'without guard', 'with guard', 'with ÷ without', 'cost of the guard'],
        rows: [
          measure(`handshakes/s (${HANDSHAKE_CLIENTS} clients)`, (entry) => entry.handshakesPerSecond, false),
          measure('handshake p99 ms', (entry) => entry.handshakeP99, false),
          measure('server CPU µs per handshake', (entry) => entry.cpuUsPerHandshake, true),
          measure(`echo round trips/s (${config.echo.connections} connections)`, (entry) => entry.echoPerSecond, false),
          measure('echo p99 ms', (entry) => entry.echoP99, false),
          measure('server CPU µs per message', (entry) => entry.cpuUsPerMessage, true),
        ],
        notes: [
          'The app: one `new WebSocketServer({ server, path: "/chat" })` echoing, beside an HTTP handler. With the guard, the ' +
            'ws server is mounted as a hub route (checked: the server has a hub with the guard and none without).',
          `${config.rounds.guard} rounds, alternating which goes first; cost = with − without, median of paired rounds.`,
        ],
      },
    ],
    targets: [],
    data: rounds,
  };
}
