/**
 * The bus's egress: 8 hubs on one Redis, each with its own room (one member, on that hub alone).
 * Every publish goes to the one room's node, so the least Redis could send is one copy of each
 * message (to that node); the figure is what it sends now, as INFO stats counts its network out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { Context } from '../context.js';
import { loadIndex, loadRedis } from '../library.js';
import { connectRedis } from '../redis.js';
import { bytes, num, type SectionResult, type Target } from '../report.js';

const NODES = 8;
const PAYLOAD = 'x'.repeat(64);

/** Redis bytes out per publish within this of one copy to the room's node. */
export const BUS_EGRESS_TARGET = 1.5;

export async function busSection(context: Context): Promise<SectionResult> {
  const quick = context.config.mode === 'quick';
  const publishes = quick ? 200 : 2_000;
  const admin = await connectRedis();
  if (!admin) {
    return { id: 'bus', tables: [], targets: [target(Number.NaN)], data: { skipped: 'no Redis at 127.0.0.1:6379' } };
  }
  const { switchboard } = await loadIndex();
  const { redisBroker } = await loadRedis();
  const prefix = `sb-bench-bus-${Math.random().toString(36).slice(2)}`;
  const nodes: Array<{ server: http.Server; hub: ReturnType<typeof switchboard>; client: WebSocket; received: number }> = [];
  for (let index = 0; index < NODES; index++) {
    const server = http.createServer();
    // Presence off: the measure is the rooms' messages alone.
    const hub = switchboard(server, { broker: redisBroker({ prefix }), presence: false });
    hub.ws('/bus').on('connection', (ws) => hub.join(ws, `room-${index}`));
    await hub.ready();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new WebSocket(`ws://127.0.0.1:${port}/bus`);
    await new Promise((resolve) => client.once('open', resolve));
    const node = { server, hub, client, received: 0 };
    client.on('message', () => {
      node.received++;
    });
    nodes.push(node);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = await netOut(admin);
  for (let index = 0; index < publishes; index++) {
    // From one node to the room of another: every message crosses Redis once, to one node.
    const from = nodes[index % NODES] as (typeof nodes)[number];
    from.hub.publish(`room-${(index + 1) % NODES}`, PAYLOAD);
  }
  const deadline = Date.now() + 10_000;
  while (nodes.reduce((sum, node) => sum + node.received, 0) < publishes && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const after = await netOut(admin);
  const delivered = nodes.reduce((sum, node) => sum + node.received, 0);
  const envelope = Buffer.byteLength(
    JSON.stringify({ node: 'x'.repeat(16), message: { type: 'publish', room: 'room-0', data: { text: PAYLOAD } } }),
  );
  // One copy to one subscriber: the RESP "message" push with the channel and the envelope.
  const oneCopy = envelope + `${prefix}:bus`.length + 40;
  const perPublish = (after - before) / publishes;
  for (const node of nodes) {
    node.client.terminate();
    await node.hub.close({ timeoutMs: 100 });
    await new Promise((resolve) => node.server.close(resolve));
  }
  admin.disconnect();
  const ratio = perPublish / oneCopy;
  return {
    id: 'bus',
    tables: [
      {
        title: `The bus: ${NODES} hubs on one Redis, each room on one hub, Redis bytes out per publish`,
        columns: ['measure', 'value'],
        rows: [
          ['publishes (64 B each), delivered', `${publishes.toLocaleString('en-US')}, ${delivered.toLocaleString('en-US')}`],
          ['Redis bytes out per publish', bytes(perPublish)],
          ['one copy to the room’s node (estimated)', bytes(oneCopy)],
          ['× one copy', num(ratio)],
        ],
        notes: [
          'total_net_output_bytes of INFO stats over the publishes, divided by them; it includes the replies to the publishers ' +
            '(a few bytes each). Today the bus is one channel that every hub subscribes to, so each publish goes to all ' +
            `${NODES} hubs whether or not they have a member of the room; routing by room would send it to the one that does.`,
        ],
      },
    ],
    targets: [target(ratio)],
    data: { publishes, delivered, perPublish, oneCopy },
  };
}

function target(ratio: number): Target {
  return {
    name: `bus egress, ${NODES} nodes, rooms on one node each`,
    wanted: `Redis bytes out per publish ≤ ${BUS_EGRESS_TARGET} × one copy to the room's node`,
    measured: Number.isFinite(ratio) ? `${num(ratio)} ×` : 'no Redis',
    met: Number.isFinite(ratio) ? ratio <= BUS_EGRESS_TARGET : undefined,
    note:
      Number.isFinite(ratio) && ratio > BUS_EGRESS_TARGET
        ? 'every node receives every message: the bus is not routed by room yet'
        : undefined,
  };
}

async function netOut(redis: import('ioredis').Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}
