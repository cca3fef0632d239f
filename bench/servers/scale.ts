/**
 * One node of the scale run: a hub on Redis (one server, or a cluster) whose connections each get
 * a user of their own and join one room, so that the parent can publish to the room that holds
 * every connection of every node, and to 1,000 users' own rooms spread over the nodes.
 */
import http from 'node:http';
import { loadIndex, loadRedis } from '../library.js';
import type { BenchServer } from './contract.js';
import { serveFanout } from './fanout.js';

export async function startScaleHub(): Promise<BenchServer> {
  const server = http.createServer();
  const { switchboard, userRoom } = await loadIndex();
  const { redisBroker } = await loadRedis();
  const prefix = process.env.SWITCHBOARD_BENCH_REDIS_PREFIX ?? `switchboard-bench-${process.pid}`;
  const cluster = process.env.SWITCHBOARD_BENCH_REDIS_CLUSTER;
  const broker = cluster
    ? redisBroker({
        cluster: cluster.split(',').map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })),
        prefix,
      })
    : redisBroker({ url: process.env.SWITCHBOARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix });
  const hub = switchboard(server, { broker });
  await hub.ready();
  let next = 0;
  const users: string[] = [];
  const served = await serveFanout(server, hub, {
    // A user per connection, unique across the nodes: the node's pid and a counter.
    authenticate: () => {
      const userId = `${process.pid}-${next++}`;
      users.push(userId);
      return { userId };
    },
  });
  return {
    ...served,
    sampleUsers: (count) => users.slice(0, count),
    toUsers: (ids, message) => {
      for (const id of ids) hub.publish(userRoom(id), message);
    },
  };
}
