import { Redis, type RedisOptions } from 'ioredis';
import type { Server as SocketIOServer } from 'socket.io';
import { optionalRequire } from '../adapters/optional-require.js';
import { RedisAnswerRecord } from '../continuity/answer-record.js';
import { checkSharedHistory } from '../continuity/history.js';
import { RedisHistory } from '../continuity/redis-history.js';
import { ANSWERS_KEPT_MS } from '../continuity/requests.js';
import { SwitchboardError } from '../errors.js';
import { RedisPresence } from '../presence/redis-presence.js';
import { type Broker, type BrokerLink, type BrokerStatus, type BusMessage, newNodeId } from './broker.js';
import { RedisUserRegistry } from './redis-users.js';

export interface RedisBrokerOptions {
  /** `redis://127.0.0.1:6379`; ignored when `client` is given. */
  url?: string;
  /** An ioredis client to use (it is duplicated for subscribing; it is not closed by the broker). */
  client?: Redis;
  /** Prefix of every key and channel, so several apps can share one Redis. Default `switchboard`. */
  prefix?: string;
}

/** How long a node counts as alive without renewing its key. */
const NODE_TTL_MS = 15_000;

/**
 * A broker on Redis for hubs in several processes: pub/sub carries room publishes, user and
 * tenant emits and disconnects between nodes; with `history`, each room is a Redis Stream shared
 * by every node (see continuity/redis-history.ts); sorted sets count each user's connections
 * cluster-wide; the official Socket.IO Redis adapter (or the Redis Streams adapter for servers with
 * connection-state recovery) carries Socket.IO's own rooms.
 *
 * Publishing is never queued while Redis is away: a message published during an outage reaches
 * the clients of its own node only, and is counted as dropped. ioredis reconnects and
 * resubscribes by itself.
 */
export function redisBroker(options: RedisBrokerOptions = {}): Broker {
  const prefix = options.prefix ?? 'switchboard';
  const channel = `${prefix}:bus`;
  const where = options.client ? 'the given Redis client' : `Redis at ${options.url ?? 'redis://127.0.0.1:6379'}`;
  const settings: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
  };
  let shared: { publisher: Redis; subscriber: Redis; ready: Promise<void>; adapterClients: Redis[] } | undefined;
  const links = new Map<
    string,
    { onMessage: (message: BusMessage) => void; onStatus: (status: BrokerStatus) => void; stats: { received: number } }
  >();

  const connect = () => {
    if (shared) return shared;
    const publisher = options.client ?? new Redis(options.url ?? 'redis://127.0.0.1:6379', settings);
    const subscriber = publisher.duplicate(settings);
    const status = (value: BrokerStatus) => {
      for (const link of links.values()) link.onStatus(value);
    };
    let up = false;
    for (const client of [publisher, subscriber]) {
      client.on('error', () => {
        // Reported through the status below, once per outage; ioredis keeps reconnecting.
      });
      client.on('close', () => {
        if (!up) return;
        up = false;
        status({
          up: false,
          error: new SwitchboardError('ERR_BROKER_UNAVAILABLE', `lost the connection to ${where}; reconnecting`),
        });
      });
      client.on('ready', () => {
        if (up || publisher.status !== 'ready' || subscriber.status !== 'ready') return;
        up = true;
        status({ up: true });
      });
    }
    subscriber.on('message', (from: string, text: string) => {
      if (from !== channel) return;
      let envelope: { node: string; message: BusMessage };
      try {
        envelope = JSON.parse(text);
      } catch {
        return;
      }
      for (const [nodeId, link] of links) {
        if (nodeId === envelope.node) continue;
        link.stats.received++;
        link.onMessage(envelope.message);
      }
    });
    const ready = (async () => {
      try {
        if (publisher.status === 'wait') await publisher.connect();
        await subscriber.connect();
        await subscriber.subscribe(channel);
        up = true;
      } catch (error) {
        subscriber.disconnect();
        if (!options.client) publisher.disconnect();
        throw new SwitchboardError(
          'ERR_BROKER_UNAVAILABLE',
          `redisBroker: cannot reach ${where} (${(error as Error).message}). Start Redis or fix the url; ` +
            'without it the hubs of other processes would silently miss every message.',
        );
      }
    })();
    shared = { publisher, subscriber, ready, adapterClients: [] };
    return shared;
  };

  let history: RedisHistory | undefined;
  return {
    kind: 'redis',
    history(historyOptions) {
      checkSharedHistory(history?.options, historyOptions);
      history ??= new RedisHistory(connect().publisher, prefix, channel, {
        size: historyOptions.size,
        ttlMs: historyOptions.ttlMs,
      });
      return history;
    },
    answers() {
      return new RedisAnswerRecord(connect().publisher, prefix, ANSWERS_KEPT_MS);
    },
    join(onMessage, onStatus): BrokerLink {
      const { publisher, ready } = connect();
      const nodeId = newNodeId();
      const stats = { published: 0, received: 0, dropped: 0 };
      links.set(nodeId, { onMessage, onStatus, stats });
      const alive = () => publisher.set(`${prefix}:node:${nodeId}`, '1', 'PX', NODE_TTL_MS).catch(() => {});
      const heartbeat = setInterval(alive, NODE_TTL_MS / 3);
      heartbeat.unref();
      const linkReady = ready.then(alive).then(() => undefined);
      linkReady.catch(() => clearInterval(heartbeat));
      const users = new RedisUserRegistry(publisher, prefix);
      const presence = new RedisPresence(publisher, prefix, nodeId, alive);
      return {
        nodeId,
        ready: linkReady,
        users,
        presence,
        publish(message) {
          if (publisher.status !== 'ready') {
            stats.dropped++;
            return;
          }
          stats.published++;
          publisher.publish(channel, JSON.stringify({ node: nodeId, message })).catch(() => {
            stats.dropped++;
          });
        },
        attachSocketIO(io: SocketIOServer) {
          // The adapters subscribe as soon as they are created and manage their clients themselves:
          // those connect at once and queue while Redis is away (ioredis defaults).
          const client = () => {
            const duplicate = publisher.duplicate({ lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null });
            duplicate.on('error', () => {});
            shared?.adapterClients.push(duplicate);
            return duplicate;
          };
          const recovery = Boolean(
            (io as unknown as { opts?: { connectionStateRecovery?: unknown } }).opts?.connectionStateRecovery,
          );
          if (recovery) {
            const { createAdapter } = optionalRequire<typeof import('@socket.io/redis-streams-adapter')>(
              '@socket.io/redis-streams-adapter',
              'redisBroker with Socket.IO connection-state recovery',
            );
            io.adapter(createAdapter(client(), { streamName: `${prefix}:socket.io` }));
          } else {
            const { createAdapter } = optionalRequire<typeof import('@socket.io/redis-adapter')>(
              '@socket.io/redis-adapter',
              'redisBroker with Socket.IO',
            );
            io.adapter(createAdapter(client(), client(), { key: `${prefix}:socket.io` }));
          }
        },
        stats: () => ({ ...stats, connected: publisher.status === 'ready' }),
        async close() {
          clearInterval(heartbeat);
          presence.stop();
          links.delete(nodeId);
          await publisher.del(`${prefix}:node:${nodeId}`).catch(() => {});
          if (links.size === 0 && shared) {
            for (const client of shared.adapterClients) client.disconnect();
            shared.subscriber.disconnect();
            if (!options.client) shared.publisher.disconnect();
            shared = undefined;
            history = undefined;
          }
        },
      };
    },
  };
}
