import { Cluster, Redis } from 'ioredis';
import { SwitchboardError } from '../errors.js';

export interface RedisBrokerOptions {
  /** `redis://127.0.0.1:6379`: one Redis server. */
  url?: string;
  /** Redis Cluster: some of its nodes (`[{ host, port }, …]`); the rest are found from them. */
  cluster?: Array<{ host: string; port: number }>;
  /**
   * An ioredis client to use: a `Redis` or a `Cluster` (it is duplicated for subscribing; it is not
   * closed by the broker). Instead of `url` and `cluster`.
   */
  client?: Redis | Cluster;
  /** Prefix of every key and channel, so several apps can share one Redis. Default `switchboard`. */
  prefix?: string;
}

const KNOWN = ['url', 'cluster', 'client', 'prefix'] as const;

/** What the broker connects to, once the options are checked. */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }> }
  | { kind: 'client'; client: Redis | Cluster; cluster: boolean };

/**
 * Refuses what the broker would otherwise get wrong in silence: an unknown option (a typo, or an
 * ioredis option given here), two targets at once, a malformed one. Each error names the option.
 */
export function checkRedisOptions(options: unknown): { target: RedisTarget; prefix: string } {
  const where = 'redisBroker(options)';
  if (options === undefined) return { target: { kind: 'url', url: DEFAULT_URL }, prefix: DEFAULT_PREFIX };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid(`${where}: options must be an object { url } or { cluster } or { client }, with an optional prefix.`);
  }
  const given = options as Record<string, unknown>;
  const unknown = Object.keys(given).filter((name) => !(KNOWN as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw invalid(
      `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}. ` +
        `The options are ${KNOWN.join(', ')}; for other ioredis settings, create the client yourself and pass it as client.`,
    );
  }
  const targets = (['url', 'cluster', 'client'] as const).filter((name) => given[name] !== undefined);
  if (targets.length > 1) {
    throw invalid(`${where}: ${targets.join(' and ')} were both given; give one of url, cluster and client.`);
  }
  const { prefix = DEFAULT_PREFIX } = given;
  if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
    throw invalid(
      `${where}: prefix must be a non-empty string without { or } (they would change the Redis Cluster hash slots), not ${JSON.stringify(prefix)}.`,
    );
  }
  if (given.client !== undefined) {
    const { client } = given;
    if (client instanceof Cluster) return { target: { kind: 'client', client, cluster: true }, prefix };
    if (client instanceof Redis) return { target: { kind: 'client', client, cluster: false }, prefix };
    throw invalid(`${where}: client must be an ioredis Redis or Cluster (new Redis(url), new Cluster(nodes)).`);
  }
  if (given.cluster !== undefined) {
    const { cluster } = given;
    const valid =
      Array.isArray(cluster) &&
      cluster.length > 0 &&
      cluster.every(
        (node) =>
          typeof node === 'object' &&
          node !== null &&
          typeof (node as { host?: unknown }).host === 'string' &&
          Number.isInteger((node as { port?: unknown }).port) &&
          (node as { port: number }).port > 0 &&
          (node as { port: number }).port < 65_536,
      );
    if (!valid) {
      throw invalid(
        `${where}: cluster must be a non-empty list of nodes [{ host: '10.0.0.1', port: 6379 }, …], not ${describe(cluster)}.`,
      );
    }
    return {
      target: {
        kind: 'cluster',
        nodes: (cluster as Array<{ host: string; port: number }>).map(({ host, port }) => ({ host, port })),
      },
      prefix,
    };
  }
  const { url = DEFAULT_URL } = given;
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw invalid(`${where}: url must be a redis:// or rediss:// URL, not ${describe(url)}.`);
  }
  return { target: { kind: 'url', url }, prefix };
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_PREFIX = 'switchboard';

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('ERR_INVALID_OPTION', message);
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
