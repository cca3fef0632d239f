/**
 * What `collectMetrics` costs: the same hub with and without it, per handshake (two server
 * processes side by side, paired windows) and per publish (in-process rooms of real clients,
 * interleaved rounds). A scrape is not in either: Prometheus reads every 15–60 s.
 */
import { Registry } from 'prom-client';
import type { Context } from '../context.js';
import { loadIndex, loadMetrics } from '../library.js';
import { cell, num, ratioCell, type SectionResult, type Target } from '../report.js';
import { pairedRatios, summarize } from '../stats.js';
import { atMostTarget, pairedHandshakeWindows, windowRatios } from './paired-windows.js';
import { publishRounds, room } from './publish-room.js';
import { type RunningServer, startServer } from './session.js';

/** Metrics on ÷ off, at most (the goal: within 2 %). */
const METRICS_TARGET = 1.02;
const HANDSHAKE_CLIENTS = 64;

type Mode = 'off' | 'on';

export async function metricsSection(context: Context): Promise<SectionResult> {
  const { config, log } = context;
  const quick = config.mode === 'quick';

  // --- per handshake: two hub processes, one with collectMetrics ---
  const servers = {} as Record<Mode, RunningServer>;
  let windows: Awaited<ReturnType<typeof pairedHandshakeWindows<Mode>>>;
  try {
    servers.off = await startServer('hub');
    servers.on = await startServer('hub-metrics');
    windows = await pairedHandshakeWindows(context, 'metrics', servers, { ...config.paired, concurrency: HANDSHAKE_CLIENTS });
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.child.kill()));
  }

  // --- per publish: a room of real clients, in this process ---
  const { switchboard } = await loadIndex();
  const { collectMetrics } = await loadMetrics();
  const members = quick ? 20 : 100;
  const rounds = quick ? 2 : 7;
  const batches = quick ? 3 : 40;
  const off = await room(switchboard, undefined, false, members);
  const on = await room(switchboard, undefined, false, members, (hub) => collectMetrics(hub, { register: new Registry() }));
  await publishRounds(off, 2);
  await publishRounds(on, 2);
  const offNs: number[] = [];
  const onNs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternating which goes first, as everywhere: the second of a pair runs on warmer caches.
    if (round % 2 === 0) {
      offNs.push(await publishRounds(off, batches));
      onNs.push(await publishRounds(on, batches));
    } else {
      onNs.push(await publishRounds(on, batches));
      offNs.push(await publishRounds(off, batches));
    }
    log(`metrics: publish round ${round + 1}/${rounds} done`);
  }
  await off.stop();
  await on.stop();

  const cpu = (mode: Mode) => windows[mode].map((entry) => entry.cpuUsPerHandshake);
  const { ratio: handshakeRatio, middleHalf: quartiles } = windowRatios(cpu('on'), cpu('off'));
  const publishRatio = pairedRatios(onNs, offNs);
  const verdict = (name: string, ratio: ReturnType<typeof pairedRatios>, measured: string): Target =>
    atMostTarget(name, `metrics on ≤ ${METRICS_TARGET} × off`, METRICS_TARGET, ratio, measured, 'see the metrics table');
  const delta = (on: number[], off: number[]) => summarize(on.map((value, index) => value - (off[index] ?? Number.NaN))).median;
  return {
    id: 'metrics',
    tables: [
      {
        title: 'Metrics: the same hub without and with `collectMetrics(hub)`',
        columns: ['measure', 'metrics off', 'metrics on', 'on ÷ off', 'cost of the metrics'],
        rows: [
          [
            `server CPU µs per handshake (${HANDSHAKE_CLIENTS} clients)`,
            cell(summarize(cpu('off'))),
            cell(summarize(cpu('on'))),
            ratioCell(handshakeRatio),
            `${num(delta(cpu('on'), cpu('off')))} µs`,
          ],
          [
            `µs per hub.publish to ${members} connections (64 B)`,
            cell(summarize(offNs.map((ns) => ns / 1000))),
            cell(summarize(onNs.map((ns) => ns / 1000))),
            ratioCell(publishRatio),
            `${num(delta(onNs, offNs) / 1000)} µs`,
          ],
        ],
        notes: [
          `Handshakes: two hub processes side by side, ${config.paired.windows} paired windows of ${config.paired.windowMs} ms ` +
            `after ${config.paired.warmupMs} ms of warm-up each (see the guard section); middle half of the ratios ${quartiles}. ` +
            'With metrics a handshake adds one counter increment and one histogram observation (children made once per route).',
          `Publishes: in this process, ${rounds} interleaved rounds of ${batches} × 100 publishes, the sockets drained between ` +
            'batches. With metrics a publish adds two counter increments (publishes, recipients).',
        ],
      },
    ],
    targets: [
      verdict('metrics, server CPU per handshake', handshakeRatio, `${ratioCell(handshakeRatio)}, middle half ${quartiles}`),
      verdict('metrics, time per publish', publishRatio, ratioCell(publishRatio)),
    ],
    data: { windows, offNs, onNs },
  };
}
