import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Server as SocketIOServer } from 'socket.io';
import { RedisAnswerRecord } from '../continuity/answer-record.js';
import { checkSharedHistory } from '../continuity/history.js';
import { RedisHistory } from '../continuity/redis-history.js';
import { ANSWERS_KEPT_MS } from '../continuity/requests.js';
import { SwitchboardError } from '../errors.js';
import { optionalRequire } from '../optional-require.js';
import { RedisPresence } from '../presence/redis-presence.js';
import { within } from '../within.js';
import { type Broker, type BrokerLink, type BrokerStatus, type BusMessage, newNodeId } from './broker.js';
import { retryShardSubscriptions, untilReady } from './ioredis-workarounds.js';
import { checkRedisOptions, type RedisBrokerOptions } from './redis-options.js';
import { RedisUserRegistry } from './redis-users.js';
import { channelBesideHistory, RoomChannels, roomChannel } from './room-channels.js';

export type { RedisBrokerOptions } from './redis-options.js';

/** A client of one Redis or of a Redis Cluster: the broker uses what both have. */
type Client = Redis | Cluster;

/** How long the connections may take to be ready at start (a cluster in failover takes a few seconds). */
const CONNECT_TIMEOUT_MS = 20_000;

/** How long a cluster's bus channel may take to deliver a first message of ours, at start. */
const PROBE_TIMEOUT_MS = 10_000;

/** How long a closing node waits for Redis to take its liveness key away before it lets go anyway. */
const GOODBYE_MS = 1_000;

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
export function redisBroker(options?: RedisBrokerOptions): Broker {
  const { target, prefix } = checkRedisOptions(options);
  const clustered = target.kind === 'cluster' || (target.kind === 'client' && target.cluster);
  const ownClient = target.kind !== 'client';
  /** The bus: messages for every node (reports, presence, replacements, operations). */
  const channel = `${prefix}:bus`;
  /** Room messages go on their room's channel, to the nodes with members in it (room-channels.ts). */
  const roomChannels = roomChannel(prefix, '').slice(0, -1);
  const where =
    target.kind === 'client'
      ? `the given Redis ${target.cluster ? 'Cluster ' : ''}client`
      : target.kind === 'cluster'
        ? `the Redis Cluster at ${target.nodes.map(({ host, port }) => `${host}:${port}`).join(', ')}`
        : `Redis at ${target.url}`;
  const settings: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
  };
  // A Cluster's own offline queue stays on: it holds commands while it finds the slots' owners
  // (at start, after a failover); each node connection fails fast as one Redis would.
  const clusterSettings: ClusterOptions = {
    lazyConnect: true,
    // Sharded pub/sub: each shard channel is subscribed on the node that owns its slot.
    shardedSubscribers: true,
    // No CLUSTER INFO ready check: when it fails (a shard in failover) ioredis reconnects, and
    // doing so stops the sharded subscriber group in the middle of its start, after which it never
    // subscribes anything again (ioredis 6). Commands meeting CLUSTERDOWN are retried anyway, and
    // the broker's own probe says when the bus delivers.
    enableReadyCheck: false,
    clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
    redisOptions: { maxRetriesPerRequest: 1 },
  };
  let shared:
    | {
        publisher: Client;
        subscriber: Client;
        ready: Promise<void>;
        adapterClients: Client[];
        sent: (ok: boolean) => void;
        rooms: RoomChannels;
      }
    | undefined;
  const links = new Map<
    string,
    { onMessage: (message: BusMessage) => void; onStatus: (status: BrokerStatus) => void; stats: { received: number } }
  >();

  /** Another connection like the publisher: for subscribing, or for an adapter (`extra` settings). */
  const duplicate = (publisher: Client, extra: RedisOptions = {}): Client =>
    publisher instanceof Cluster
      ? publisher.duplicate([], {
          ...clusterSettings,
          redisOptions: { ...clusterSettings.redisOptions, ...extra },
          lazyConnect: extra.lazyConnect ?? true,
        })
      : publisher.duplicate({ ...settings, ...extra });

  const connect = () => {
    if (shared) return shared;
    const publisher: Client =
      target.kind === 'client'
        ? target.client
        : target.kind === 'cluster'
          ? new Cluster(target.nodes, clusterSettings)
          : new Redis(target.url, settings);
    const subscriber = duplicate(publisher);
    const rooms = new RoomChannels(subscriber, clustered, prefix);
    let subscribedOnce = false;
    const status = (value: BrokerStatus) => {
      for (const link of links.values()) link.onStatus(value);
    };
    let up = false;
    const down = (error: SwitchboardError) => {
      if (!up) return;
      up = false;
      status({ up: false, error });
    };
    // On a cluster a stopped master fails only the commands of its slots: the bus's failing and
    // working again is what says the broker is down and back.
    const sent = (ok: boolean) => {
      if (ok && !up && publisher.status === 'ready' && subscriber.status === 'ready') {
        up = true;
        status({ up: true });
      } else if (!ok) {
        down(
          new SwitchboardError('ERR_BROKER_UNAVAILABLE', `the bus channel on ${where} does not answer (a failover?); retrying`),
        );
      }
    };
    for (const client of [publisher, subscriber]) {
      client.on('error', () => {
        // Reported through the status below, once per outage; ioredis keeps reconnecting.
      });
      client.on('close', () =>
        down(new SwitchboardError('ERR_BROKER_UNAVAILABLE', `lost the connection to ${where}; reconnecting`)),
      );
      client.on('ready', () => {
        // One Redis: what could not be subscribed while it was away is asked for again (a cluster's
        // subscriber group does it itself, per shard).
        if (client === subscriber && subscribedOnce && !clustered) rooms.resubscribe();
        if (up || publisher.status !== 'ready' || subscriber.status !== 'ready') return;
        up = true;
        status({ up: true });
      });
    }
    let probe: { id: string; heard: () => void } | undefined;
    const hear = (from: string, text: string) => {
      if (from !== channel && !from.startsWith(roomChannels)) return;
      let envelope: { node: string; message: BusMessage; probe?: string };
      try {
        envelope = JSON.parse(text);
      } catch {
        return;
      }
      if (envelope.probe !== undefined) {
        if (envelope.probe === probe?.id) probe.heard();
        return;
      }
      for (const [nodeId, link] of links) {
        if (nodeId === envelope.node) continue;
        link.stats.received++;
        link.onMessage(envelope.message);
      }
    };
    subscriber.on(clustered ? 'smessage' : 'message', hear);
    const ready = (async () => {
      try {
        await untilReady(publisher, CONNECT_TIMEOUT_MS);
        await untilReady(subscriber, CONNECT_TIMEOUT_MS);
        if (clustered) {
          // During a failover the channel's slot can be unserved for a moment ("too many
          // redirections"): asked again until the probe's deadline.
          const subscribedBy = Date.now() + PROBE_TIMEOUT_MS;
          for (;;) {
            try {
              await subscriber.ssubscribe(channel);
              break;
            } catch (error) {
              if (Date.now() > subscribedBy) throw error;
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
          }
          // A shard subscription can be answered before the node that owns the channel delivers on
          // it: ready means a message of ours came back through it.
          await new Promise<void>((resolve, reject) => {
            const id = newNodeId();
            const started = Date.now();
            const send = () => {
              if (Date.now() - started > PROBE_TIMEOUT_MS) {
                clearInterval(timer);
                reject(new Error(`the bus channel delivered nothing within ${PROBE_TIMEOUT_MS / 1000} s`));
                return;
              }
              publisher.spublish(channel, JSON.stringify({ probe: id })).catch(() => {});
            };
            const timer = setInterval(send, 100);
            probe = {
              id,
              heard: () => {
                clearInterval(timer);
                probe = undefined;
                resolve();
              },
            };
            send();
          });
        } else {
          await subscriber.subscribe(channel);
        }
        subscribedOnce = true;
        up = true;
      } catch (error) {
        subscriber.disconnect();
        if (ownClient) publisher.disconnect();
        throw new SwitchboardError(
          'ERR_BROKER_UNAVAILABLE',
          `redisBroker: cannot reach ${where} (${(error as Error).message}). Start Redis or fix the ${target.kind}; ` +
            'without it the hubs of other processes would silently miss every message.',
        );
      }
    })();
    shared = { publisher, subscriber, ready, adapterClients: [], sent, rooms };
    return shared;
  };

  let history: RedisHistory | undefined;
  return {
    kind: 'redis',
    history(historyOptions) {
      checkSharedHistory(history?.options, historyOptions);
      // The append's script publishes on the room's channel, so that messages leave in the order
      // they were positioned. On a cluster it can only when the channel is in the slot of the room's
      // keys; for the few rooms whose names defeat the hash tag, the hub publishes after the append.
      history ??= new RedisHistory(
        connect().publisher,
        prefix,
        {
          channel: (room) => (!clustered || channelBesideHistory(room) ? roomChannel(prefix, room) : undefined),
          command: clustered ? 'SPUBLISH' : 'PUBLISH',
        },
        { size: historyOptions.size, ttlMs: historyOptions.ttlMs },
      );
      return history;
    },
    answers() {
      return new RedisAnswerRecord(connect().publisher, prefix, ANSWERS_KEPT_MS);
    },
    join(onMessage, onStatus): BrokerLink {
      const { publisher, ready, sent, rooms } = connect();
      const nodeId = newNodeId();
      const stats = { published: 0, received: 0, dropped: 0 };
      links.set(nodeId, { onMessage, onStatus, stats });
      const alive = () => publisher.set(`${prefix}:node:${nodeId}`, '1', 'PX', NODE_TTL_MS).catch(() => {});
      const heartbeat = setInterval(alive, NODE_TTL_MS / 3);
      heartbeat.unref();
      const linkReady = ready.then(alive).then(() => undefined);
      linkReady.catch(() => clearInterval(heartbeat));
      const users = new RedisUserRegistry(publisher, prefix, clustered);
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
          const text = JSON.stringify({ node: nodeId, message });
          // A message of a room goes where that room is followed; everything else to every node.
          const to = typeof message.room === 'string' ? roomChannel(prefix, message.room) : channel;
          if (!clustered) {
            publisher.publish(to, text).catch(() => {
              stats.dropped++;
            });
            return;
          }
          publisher.spublish(to, text).then(
            () => sent(true),
            () => {
              stats.dropped++;
              sent(false);
            },
          );
        },
        attachSocketIO(io: SocketIOServer) {
          // The adapters subscribe as soon as they are created and manage their clients themselves:
          // those connect at once and queue while Redis is away (ioredis defaults).
          const client = () => {
            const adapterClient = duplicate(publisher, {
              lazyConnect: false,
              enableOfflineQueue: true,
              maxRetriesPerRequest: null,
            });
            if (adapterClient instanceof Cluster) adapterClient.connect().catch(() => {});
            adapterClient.on('error', () => {});
            shared?.adapterClients.push(adapterClient);
            return adapterClient;
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
          } else if (clustered) {
            // Redis Cluster: the official sharded adapter (SSUBSCRIBE/SPUBLISH, Redis 7).
            const { createShardedAdapter } = optionalRequire<typeof import('@socket.io/redis-adapter')>(
              '@socket.io/redis-adapter',
              'redisBroker with Socket.IO',
            );
            const adapterSubscriber = client() as Cluster;
            retryShardSubscriptions(adapterSubscriber);
            io.adapter(createShardedAdapter(client(), adapterSubscriber, { channelPrefix: `${prefix}:socket.io` }));
          } else {
            const { createAdapter } = optionalRequire<typeof import('@socket.io/redis-adapter')>(
              '@socket.io/redis-adapter',
              'redisBroker with Socket.IO',
            );
            io.adapter(createAdapter(client(), client(), { key: `${prefix}:socket.io` }));
          }
        },
        follow: (room) => rooms.follow(room),
        unfollow: (room) => rooms.unfollow(room),
        stats: () => ({ ...stats, connected: publisher.status === 'ready', rooms: rooms.size }),
        async close() {
          clearInterval(heartbeat);
          presence.stop();
          links.delete(nodeId);
          // The liveness key says goodbye at once; without an answer it expires by itself.
          await within(GOODBYE_MS, publisher.del(`${prefix}:node:${nodeId}`));
          if (links.size === 0 && shared) {
            for (const client of shared.adapterClients) client.disconnect();
            shared.rooms.stop();
            shared.subscriber.disconnect();
            if (ownClient) shared.publisher.disconnect();
            shared = undefined;
            history = undefined;
          }
        },
      };
    },
  };
}
