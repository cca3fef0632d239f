/**
 * The bus's egress: 8 hubs, each with its own room (one member, on that hub alone), on one Redis
 * and on a local three-master cluster. Every publish goes to the one room's node, so the least
 * Redis could send is one copy of each message (to that node); the figure is what it sends, as
 * INFO stats counts its network out (summed over the masters). Beside it, the same layout on
 * Socket.IO's official adapters: the classic one on one Redis (every node gets every message) and
 * the sharded one on the cluster (its `dynamic` mode subscribes per room).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as IoServer } from 'socket.io';
import { type Socket as ClientSocket, io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';
import { LocalRedisCluster } from '../../scripts/local-redis-cluster.js';
import type { Context } from '../context.js';
import { loadIndex, loadRedis } from '../library.js';
import { connectRedis } from '../redis.js';
import { bytes, num, type SectionResult, type Target } from '../report.js';

const NODES = 8;
const PAYLOAD = 'x'.repeat(64);
const CLUSTER_PORT = 17501;

/** Redis bytes out per publish within this of one copy to the room's node. */
export const BUS_EGRESS_TARGET = 1.5;

type Where = { kind: 'one Redis'; ports: [6379] } | { kind: 'Redis Cluster (3 masters)'; ports: number[] };

interface Row {
  where: Where['kind'];
  who: 'hub' | 'Socket.IO adapter';
  publishes: number;
  delivered: number;
  perPublish: number;
  oneCopy: number;
}

/** A node of the layout: something that delivers to its one member, and publishes to another node's room. */
interface BusNode {
  publish(room: string, data: string): void;
  received: () => number;
  close(): Promise<void>;
}

export async function busSection(context: Context): Promise<SectionResult> {
  const quick = context.config.mode === 'quick';
  const publishes = quick ? 200 : 2_000;
  const admin = await connectRedis();
  if (!admin) {
    return { id: 'bus', tables: [], targets: [target(Number.NaN, 'one Redis')], data: { skipped: 'no Redis at 127.0.0.1:6379' } };
  }
  admin.disconnect();
  const rows: Row[] = [];
  const single: Where = { kind: 'one Redis', ports: [6379] };
  rows.push(await measure(single, 'hub', publishes, context));
  rows.push(await measure(single, 'Socket.IO adapter', publishes, context));
  const cluster = new LocalRedisCluster(CLUSTER_PORT);
  try {
    await cluster.start();
    const clustered: Where = { kind: 'Redis Cluster (3 masters)', ports: cluster.ports };
    rows.push(await measure(clustered, 'hub', publishes, context, cluster.nodes));
    rows.push(await measure(clustered, 'Socket.IO adapter', publishes, context, cluster.nodes));
  } catch (error) {
    context.log(`bus: the cluster could not be measured (${(error as Error).message})`);
  } finally {
    cluster.stop();
  }
  const hubRows = rows.filter((row) => row.who === 'hub');
  return {
    id: 'bus',
    tables: [
      {
        title: `The bus: ${NODES} nodes, each room on one node, Redis bytes out per publish`,
        columns: [
          'Redis',
          'who routes',
          'publishes (64 B), delivered',
          'bytes out per publish',
          'one copy (estimated)',
          '× one copy',
        ],
        rows: rows.map((row) => [
          row.where,
          row.who,
          `${row.publishes.toLocaleString('en-US')}, ${row.delivered.toLocaleString('en-US')}`,
          bytes(row.perPublish),
          bytes(row.oneCopy),
          num(row.perPublish / row.oneCopy),
        ]),
        notes: [
          'total_net_output_bytes of INFO stats over the publishes (summed over the masters of the cluster), divided by them; ' +
            'it includes the replies to the publishers (a few bytes each). One copy is the RESP push of the message to one subscriber: ' +
            'the channel, the payload as that library frames it, and 40 bytes of protocol.',
          'The hub sends each room on its own channel, which only the nodes with members in it subscribe to; ' +
            'the classic Socket.IO adapter publishes every room on one channel that every node subscribes to; ' +
            'the sharded adapter (cluster) subscribes per room, as the hub does.',
        ],
      },
    ],
    targets: hubRows.map((row) => target(row.perPublish / row.oneCopy, row.where)),
    data: rows,
  };
}

async function measure(
  where: Where,
  who: Row['who'],
  publishes: number,
  context: Context,
  clusterNodes?: Array<{ host: string; port: number }>,
): Promise<Row> {
  const prefix = `sb-bench-bus-${Math.random().toString(36).slice(2)}`;
  const nodes: BusNode[] = [];
  for (let index = 0; index < NODES; index++) {
    nodes.push(who === 'hub' ? await hubNode(index, prefix, clusterNodes) : await ioNode(index, prefix, clusterNodes));
  }
  // Subscriptions settle, and the cluster clients' first slot refreshes are done.
  await new Promise((resolve) => setTimeout(resolve, clusterNodes ? 1_000 : 200));
  const admins = await Promise.all(where.ports.map((port) => connectRedis(port)));
  const netOut = async () => {
    let sum = 0;
    for (const admin of admins) sum += admin ? await netOutOf(admin) : Number.NaN;
    return sum;
  };
  const before = await netOut();
  for (let index = 0; index < publishes; index++) {
    // From one node to the room of another: every message crosses Redis once, to one node.
    (nodes[index % NODES] as BusNode).publish(`room-${(index + 1) % NODES}`, PAYLOAD);
  }
  const deadline = Date.now() + 10_000;
  const delivered = () => nodes.reduce((sum, node) => sum + node.received(), 0);
  while (delivered() < publishes && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const after = await netOut();
  for (const admin of admins) admin?.disconnect();
  for (const node of nodes) await node.close();
  const row: Row = {
    where: where.kind,
    who,
    publishes,
    delivered: delivered(),
    perPublish: (after - before) / publishes,
    oneCopy: oneCopy(who, prefix),
  };
  context.log(`bus: ${where.kind}, ${who}: ${num(row.perPublish / row.oneCopy)} × one copy`);
  return row;
}

async function hubNode(index: number, prefix: string, cluster?: Array<{ host: string; port: number }>): Promise<BusNode> {
  const { switchboard } = await loadIndex();
  const { redisBroker } = await loadRedis();
  const server = http.createServer();
  // Presence off: the measure is the rooms' messages alone.
  const broker = cluster ? redisBroker({ cluster, prefix }) : redisBroker({ prefix });
  const hub = switchboard(server, { broker, presence: false });
  let joined: Promise<void> = Promise.resolve();
  hub.ws('/bus').on('connection', (ws) => {
    joined = hub.join(ws, `room-${index}`);
  });
  await hub.ready();
  const port = await listen(server);
  const client = new WebSocket(`ws://127.0.0.1:${port}/bus`);
  await new Promise((resolve) => client.once('open', resolve));
  await joined;
  let received = 0;
  client.on('message', () => {
    received++;
  });
  return {
    publish: (room, data) => hub.publish(room, data),
    received: () => received,
    async close() {
      client.terminate();
      await hub.close({ timeoutMs: 100 });
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function ioNode(index: number, prefix: string, cluster?: Array<{ host: string; port: number }>): Promise<BusNode> {
  const { Cluster, Redis } = await import('ioredis');
  const { createAdapter, createShardedAdapter } = await import('@socket.io/redis-adapter');
  const server = http.createServer();
  const clients = cluster
    ? [new Cluster(cluster, { shardedSubscribers: true }), new Cluster(cluster, { shardedSubscribers: true })]
    : [new Redis(6379), new Redis(6379)];
  const [pub, sub] = clients as [InstanceType<typeof Redis>, InstanceType<typeof Redis>];
  const io = new IoServer(server, {
    adapter: cluster
      ? createShardedAdapter(pub, sub, { channelPrefix: `${prefix}:socket.io` })
      : createAdapter(pub, sub, { key: `${prefix}:socket.io` }),
  });
  io.on('connection', (socket) => {
    socket.join(`room-${index}`);
    socket.emit('joined');
  });
  const port = await listen(server);
  const client: ClientSocket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
  await new Promise((resolve) => client.once('joined', resolve));
  let received = 0;
  client.on('m', () => {
    received++;
  });
  return {
    publish: (room, data) => io.to(room).emit('m', data),
    received: () => received,
    async close() {
      client.close();
      await new Promise((resolve) => io.close(() => resolve(undefined)));
      for (const each of clients) each.disconnect();
    },
  };
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** One copy to one subscriber, as each library frames a 64-byte message to `room-0`. */
function oneCopy(who: Row['who'], prefix: string): number {
  if (who === 'hub') {
    const envelope = JSON.stringify({
      node: 'x'.repeat(16),
      message: { type: 'publish', room: 'room-0', data: { text: PAYLOAD } },
    });
    return Buffer.byteLength(envelope) + `${prefix}:r:{room-0}`.length + 40;
  }
  // The adapters send a msgpack packet: the emitter's uid, the event and data, and the room; about the payload plus 60 bytes.
  return PAYLOAD.length + 60 + `${prefix}:socket.io#/#room-0#`.length + 40;
}

function target(ratio: number, where: string): Target {
  return {
    name: `bus egress, ${NODES} nodes, rooms on one node each, ${where}`,
    wanted: `Redis bytes out per publish ≤ ${BUS_EGRESS_TARGET} × one copy to the room's node`,
    measured: Number.isFinite(ratio) ? `${num(ratio)} ×` : 'no Redis',
    met: Number.isFinite(ratio) ? ratio <= BUS_EGRESS_TARGET : undefined,
    note:
      Number.isFinite(ratio) && ratio > BUS_EGRESS_TARGET
        ? 'more nodes receive a message than have members of its room'
        : undefined,
  };
}

async function netOutOf(redis: import('ioredis').Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}
