import { Counter, Gauge, register as globalRegister, Histogram, type Registry } from 'prom-client';
import { namespacesOf } from '../adapters/socketio.js';
import { SwitchboardError } from '../errors.js';
import type { AdoptedEvent, ConnectionEvent, Hub, RejectEvent } from '../hub/index.js';
import type { Realtime } from '../realtime/realtime.js';

export interface MetricsOptions {
  /** The prom-client registry to register on. Default: prom-client's global `register`. */
  register?: Registry;
  /** Put before every metric name. Default `switchboard_`. */
  prefix?: string;
}

export interface HubMetrics {
  /** Detaches from the hub and unregisters every series this call registered. */
  stop(): void;
}

const KNOWN_OPTIONS = new Set(['register', 'prefix']);

/** Seconds: a handshake on one machine is ~0.1–1 ms; one that waits on an auth service, up to seconds. */
const HANDSHAKE_BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * Registers the hub's series on a prom-client registry. Label values are bounded: route patterns
 * (never raw paths, user or tenant ids), status codes, and small fixed sets. What is a count the
 * hub keeps anyway (connections, broker health) is read at scrape time; what happens (handshakes,
 * publishes) is counted as it happens, through labelled children made once per route, so that a
 * handshake costs an increment, not a label lookup.
 */
export function collectMetrics(hub: Hub, options: MetricsOptions = {}): HubMetrics {
  checkOptions(hub, options);
  const register = options.register ?? globalRegister;
  const prefix = options.prefix ?? 'switchboard_';
  const registers = [register];
  const names: string[] = [];
  const named = <T>(name: string, make: (fullName: string) => T): T => {
    const fullName = `${prefix}${name}`;
    if (register.getSingleMetric(fullName)) {
      throw new SwitchboardError(
        'ERR_METRICS_REGISTERED',
        `collectMetrics(): "${fullName}" is already on this registry (collectMetrics was called twice for it). ` +
          'Call it once per registry, or call stop() on the first one, or give each hub its own prefix or registry.',
      );
    }
    const metric = make(fullName);
    names.push(fullName);
    return metric;
  };

  try {
    named(
      'connections',
      (name) =>
        new Gauge({
          name,
          help: 'Open connections (Socket.IO: sessions), by route pattern and kind.',
          labelNames: ['route', 'kind'],
          registers,
          collect() {
            this.reset();
            for (const route of hub.routes()) this.set({ route: route.pattern, kind: route.kind }, route.connections);
          },
        }),
    );
    const handshakes = named(
      'handshakes_total',
      (name) =>
        new Counter({
          name,
          help: 'Handshakes answered, by route pattern ("" when no route matched) and status (101 accepted).',
          labelNames: ['route', 'status'],
          registers,
        }),
    );
    const durations = named(
      'handshake_duration_seconds',
      (name) =>
        new Histogram({
          name,
          help: "From the routed 'upgrade' event to the answer, by route pattern.",
          labelNames: ['route'],
          buckets: HANDSHAKE_BUCKETS,
          registers,
        }),
    );

    const accepted = new Map<
      string,
      { count: ReturnType<typeof handshakes.labels>; duration: ReturnType<typeof durations.labels> }
    >();
    const onConnection = (event: ConnectionEvent) => {
      const route = event.route.pattern;
      let children = accepted.get(route);
      if (!children) {
        children = { count: handshakes.labels(route, '101'), duration: durations.labels(route) };
        accepted.set(route, children);
      }
      children.count.inc();
      if (event.handshakeSeconds !== undefined) children.duration.observe(event.handshakeSeconds);
    };
    const onReject = (event: RejectEvent) => {
      const route = event.pattern ?? '';
      handshakes.labels(route, String(event.status)).inc();
      if (event.handshakeSeconds !== undefined) durations.labels(route).observe(event.handshakeSeconds);
    };
    const adopted = named(
      'adopted_handshakes_total',
      (name) =>
        new Counter({
          name,
          help: "Handshakes no route matched, offered to the server's adopted (legacy) 'upgrade' listeners, by result (answered, declined, failed, timeout).",
          labelNames: ['result'],
          registers,
        }),
    );
    const onAdopted = (event: AdoptedEvent) => adopted.labels(event.result).inc();
    hub.on('connection', onConnection);
    hub.on('reject', onReject);
    hub.on('adopted', onAdopted);
    const detach: Array<() => void> = [
      () => hub.off('connection', onConnection),
      () => hub.off('reject', onReject),
      () => hub.off('adopted', onAdopted),
    ];

    const realtime = realtimeOf(hub);
    if (realtime) detach.push(collectRealtime(realtime, named, registers));

    let stopped = false;
    return {
      stop() {
        if (stopped) return;
        stopped = true;
        for (const undo of detach) undo();
        for (const name of names) register.removeSingleMetric(name);
      },
    };
  } catch (error) {
    for (const name of names) register.removeSingleMetric(name);
    throw error;
  }
}

/** The series of the real-time layer: publishes, deliveries, slow consumers, the broker, recoveries. */
function collectRealtime(
  realtime: Realtime,
  named: <T>(name: string, make: (fullName: string) => T) => T,
  registers: Registry[],
): () => void {
  const published = named(
    'messages_published_total',
    (name) =>
      new Counter({
        name,
        help: 'Room messages published on this node, by type (publish: hub.publish; emit: toUser/toTenant/room emit).',
        labelNames: ['type'],
        registers,
      }),
  );
  const recipients = named(
    'broadcast_recipients_total',
    (name) => new Counter({ name, help: 'ws connections this node delivered a room message to.', registers }),
  );
  const slow = named(
    'slow_consumers_total',
    (name) =>
      new Counter({
        name,
        help: 'Recipients over the buffered-bytes limit at a broadcast, by what was done (skip or close).',
        labelNames: ['action'],
        registers,
      }),
  );
  named(
    'broker_up',
    (name) =>
      new Gauge({
        name,
        help: '1 while the broker can deliver across nodes, else 0.',
        registers,
        collect() {
          this.set(realtime.brokerIsUp ? 1 : 0);
        },
      }),
  );
  named(
    'broker_rooms',
    (name) =>
      new Gauge({
        name,
        help: 'Rooms whose messages the broker sends this node (routing by room: the rooms it has ws members in, and those in their linger).',
        registers,
        collect() {
          const { rooms } = realtime.link.stats();
          if (rooms !== undefined) this.set(rooms);
        },
      }),
  );
  const recoveries = named(
    'recoveries_total',
    (name) =>
      new Counter({
        name,
        help: 'Rooms a reconnecting connection resumed, by result (replayed, gap, failed).',
        labelNames: ['result'],
        registers,
      }),
  );
  const requestRuns = named(
    'request_runs_total',
    (name) =>
      new Counter({
        name,
        help: 'Acknowledged requests taken, by what became of them (run, answered_from_record, takeover: run again after a dead or stopped node, unrecorded: run without the cluster record).',
        labelNames: ['result'],
        registers,
      }),
  );
  const perUser = named(
    'per_user_total',
    (name) =>
      new Counter({
        name,
        help: 'Connections the per-user policy replaced (onExceed: replace-oldest) or refused, by route pattern and action.',
        labelNames: ['route', 'action'],
        registers,
      }),
  );
  named(
    'socketio_sockets',
    (name) =>
      new Gauge({
        name,
        help: "Connected Socket.IO sockets, by server path and namespace (a dynamic namespace's children as one, labelled with its regular expression).",
        labelNames: ['path', 'namespace'],
        registers,
        collect() {
          this.reset();
          for (const io of realtime.ioServers) {
            const path = io.path();
            const counts = new Map<string, number>();
            const dynamic = dynamicChildren(io);
            for (const nsp of namespacesOf(io)) {
              const label = dynamic.get(nsp) ?? nsp.name;
              counts.set(label, (counts.get(label) ?? 0) + nsp.sockets.size);
            }
            for (const [namespace, count] of counts) this.set({ path, namespace }, count);
          }
        },
      }),
  );
  const byType = { publish: published.labels('publish'), emit: published.labels('emit') };
  const skipped = slow.labels('skip');
  const closed = slow.labels('close');
  return realtime.observers.add({
    published: (type) => byType[type].inc(),
    delivered: (result) => {
      if (result.sent > 0) recipients.inc(result.sent);
      if (result.skipped > 0) skipped.inc(result.skipped);
      if (result.closed > 0) closed.inc(result.closed);
    },
    recovered: (result) => recoveries.labels(result).inc(),
    requestRun: (result) => requestRuns.labels(result).inc(),
    perUser: (pattern, action, count) => perUser.labels(pattern, action).inc(count),
  });
}

/**
 * The label of each namespace a dynamic one made, whose names are unbounded: the parent's regular
 * expression (`io.of(/^\/tenant-\w+$/)`), or "(dynamic)" for a parent made with a function.
 */
function dynamicChildren(io: Realtime['ioServers'] extends Set<infer T> ? T : never): Map<unknown, string> {
  const labels = new Map<unknown, string>();
  const server = io as unknown as {
    parentNsps?: Map<unknown, { children?: Set<unknown> }>;
    parentNamespacesFromRegExp?: Map<RegExp, unknown>;
  };
  const fromRegExp = new Map<unknown, string>();
  for (const [regex, parent] of server.parentNamespacesFromRegExp ?? []) fromRegExp.set(parent, String(regex));
  for (const parent of server.parentNsps?.values() ?? []) {
    const label = fromRegExp.get(parent) ?? DYNAMIC_NAMESPACE;
    for (const child of parent.children ?? []) labels.set(child, label);
  }
  return labels;
}

const DYNAMIC_NAMESPACE = '(dynamic)';

function realtimeOf(hub: Hub): Realtime | undefined {
  const realtime = (hub as { realtime?: Realtime }).realtime;
  return realtime && typeof realtime.observers?.add === 'function' ? realtime : undefined;
}

function checkOptions(hub: unknown, options: MetricsOptions): void {
  if (typeof (hub as Hub | undefined)?.routes !== 'function' || typeof (hub as Hub).on !== 'function') {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      'collectMetrics(hub, options): the first argument must be a hub (what switchboard(server) returns).',
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      'collectMetrics(hub, options): options must be an object { register?, prefix? }.',
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new SwitchboardError(
        'ERR_INVALID_OPTION',
        `collectMetrics(): unknown option "${key}"; the options are register (a prom-client Registry) and prefix.`,
      );
    }
  }
  if (options.register !== undefined && typeof (options.register as Registry).getSingleMetric !== 'function') {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      "collectMetrics(): register must be a prom-client Registry (new Registry() or prom-client's register).",
    );
  }
  if (options.prefix !== undefined && !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(options.prefix)) {
    throw new SwitchboardError(
      'ERR_INVALID_OPTION',
      `collectMetrics(): prefix ${JSON.stringify(options.prefix)} is not a valid start of a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).`,
    );
  }
}
