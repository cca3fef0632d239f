/**
 * The guard's cost: the same legacy app (`new WebSocketServer({ server, path })`), run as it is and
 * under `--import switchboard/register`, which makes its ws server a hub route. Cost per handshake
 * and per message, in rate and in server CPU time.
 *
 * Both servers run at once and the load alternates between them in short windows, so that the
 * drift of a shared machine (on this VM the same server measures ±10 % from one window to the
 * next) falls on both sides of each pair. Before any window both are warmed up past V8's
 * optimising: with `--trace-opt` a legacy app is still compiling functions after 20,000
 * handshakes and stops near 30,000, and compiling on a server pinned to one core is billed to
 * its handshakes; the guarded app has more code to compile (about a quarter more functions), so
 * a short warm-up charged the guard with start-up work instead of its steady cost.
 */
import type { Context } from '../context.js';
import type { EchoResult } from '../load/echo.js';
import { cell, num, ratioCell, type SectionResult } from '../report.js';
import { pairedRatios, summarize } from '../stats.js';
import { atMostTarget, type HandshakeWindow, pairedHandshakeWindows, windowRatios } from './paired-windows.js';
import { leastDisturbed, type RunningServer, rotate, startServer, timedJob } from './session.js';

interface EchoWindow {
  echoPerSecond: number;
  echoP99: number;
  cpuUsPerMessage: number;
  foreign: number;
}

const HANDSHAKE_CLIENTS = 64;
/** Guarded ÷ plain server CPU per handshake, at most. */
const GUARD_TARGET = 1.05;

type Mode = 'without' | 'with';

export async function guardSection(context: Context): Promise<SectionResult> {
  const { config, load, log } = context;
  const modes = ['without', 'with'] as const;
  const servers = {} as Record<Mode, RunningServer>;
  const windows: Record<Mode, HandshakeWindow[]> = { without: [], with: [] };
  const echoes: Record<Mode, EchoWindow[]> = { without: [], with: [] };
  try {
    for (const mode of modes) {
      const server = await startServer('legacy-app', { guard: mode === 'with' });
      servers[mode] = server;
      // The figures mean nothing unless the guard really took over the app's ws server (and only then).
      if (server.ready.hub !== (mode === 'with')) {
        throw new Error(`legacy app ${mode} the guard: expected ${mode === 'with' ? 'a hub' : 'no hub'} on its server`);
      }
    }
    Object.assign(
      windows,
      await pairedHandshakeWindows(context, 'guard', servers, { ...config.paired, concurrency: HANDSHAKE_CLIENTS }),
    );
    for (let round = 0; round < config.rounds.guard; round++) {
      for (const mode of rotate(modes, round)) {
        const echo = await leastDisturbed(
          () => timedJob<EchoResult>(servers[mode], load, 'echo', { url: servers[mode].wsUrl, ...config.echo }),
          context.retries,
        );
        echoes[mode].push({
          echoPerSecond: echo.result.perSecond,
          echoP99: echo.result.p99,
          cpuUsPerMessage: echo.serverCpuUs / echo.result.roundTrips,
          foreign: echo.foreign,
        });
      }
      log(
        `guard echo r${round + 1}: CPU µs per message ${num(echoes.without[round]?.cpuUsPerMessage ?? Number.NaN)} without, ` +
          `${num(echoes.with[round]?.cpuUsPerMessage ?? Number.NaN)} with`,
      );
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.child.kill()));
  }

  const measure = <T>(label: string, entries: Record<Mode, T[]>, pick: (entry: T) => number, cost: boolean): string[] => {
    const without = entries.without.map(pick);
    const withGuard = entries.with.map(pick);
    const delta = summarize(withGuard.map((value, index) => value - (without[index] ?? Number.NaN)));
    return [
      label,
      cell(summarize(without)),
      cell(summarize(withGuard)),
      ratioCell(pairedRatios(withGuard, without)),
      cost ? `${delta.median >= 0 ? '+' : ''}${num(delta.median)} µs` : '',
    ];
  };
  const cpu = (mode: Mode) => windows[mode].map((entry) => entry.cpuUsPerHandshake);
  const { ratio: cpuRatio, middleHalf: quartiles } = windowRatios(cpu('with'), cpu('without'));
  const target = atMostTarget(
    'guard, server CPU per handshake',
    `guarded ≤ ${GUARD_TARGET} × the app without it`,
    GUARD_TARGET,
    cpuRatio,
    `${ratioCell(cpuRatio)}, middle half ${quartiles}`,
    `median of ${cpuRatio.n} paired windows; see the guard table`,
  );
  return {
    id: 'guard',
    tables: [
      {
        title: 'Guard: the same legacy app without and with `--import switchboard/register`',
        columns: ['measure', 'without guard', 'with guard', 'with ÷ without', 'cost of the guard'],
        rows: [
          measure(`handshakes/s (${HANDSHAKE_CLIENTS} clients)`, windows, (entry) => entry.handshakesPerSecond, false),
          measure('handshake p99 ms', windows, (entry) => entry.handshakeP99, false),
          measure('server CPU µs per handshake', windows, (entry) => entry.cpuUsPerHandshake, true),
          measure(`echo round trips/s (${config.echo.connections} connections)`, echoes, (entry) => entry.echoPerSecond, false),
          measure('echo p99 ms', echoes, (entry) => entry.echoP99, false),
          measure('server CPU µs per message', echoes, (entry) => entry.cpuUsPerMessage, true),
        ],
        notes: [
          'The app: one `new WebSocketServer({ server, path: "/chat" })` echoing, beside an HTTP handler. With the guard, the ' +
            'ws server is mounted as a hub route (checked: the server has a hub with the guard and none without).',
          `Both servers run side by side; each is first warmed up with ${config.paired.warmupMs} ms of handshakes (V8 stops ` +
            'optimising near 30,000 handshakes; compiling before that is start-up, not the cost of a handshake). Then ' +
            `${config.paired.windows} windows of ${config.paired.windowMs} ms each, alternating which server goes first; ` +
            `the handshake ratio is the median of the paired windows (min–max; middle half ${quartiles}). ` +
            `Echo: ${config.rounds.guard} paired rounds. Cost = with − without, median of the pairs.`,
        ],
      },
    ],
    targets: [target],
    data: { windows, echoes },
  };
}
