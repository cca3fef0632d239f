/**
 * Presence on Redis: what a join and a leave cost (the hub's process and Redis itself), and how
 * long `hub.presence(room)` takes, for rooms of 10, 1,000 and 10,000 users. Beside it, the answer
 * Socket.IO gives to "who is in this room" across nodes: `io.in(room).fetchSockets()` through the
 * official Redis adapter, which asks every node and waits for their answers.
 *
 * A room is sized with members written through the hub's own presence store (as other nodes'
 * users would be); the joins and leaves timed are those of real `ws` connections of this process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Socket as ClientSocket, io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { Context } from '../context.js';
import { loadIndex, loadRedis } from '../library.js';
import { connectRedis } from '../redis.js';
import { cell, num, ratioCell, type SectionResult, type Target } from '../report.js';
import { summarize } from '../stats.js';

/** A join or leave at 10,000 members within this of one at 10: O(1), as the design says. */
export const PRESENCE_FLAT_TARGET = 1.5;

interface SizeResult {
  members: number;
  joinUs: number[];
  leaveUs: number[];
  redisUsPerChange: number;
  presenceMs: number[];
  countMs: number[];
  fetchSocketsMs: number[];
}

export async function presenceSection(context: Context): Promise<SectionResult> {
  const { config, log } = context;
  const quick = config.rounds.routing < 5;
  const sizes = quick ? [10, 100] : [10, 1_000, 10_000];
  const movers = quick ? 20 : 200;
  const rounds = quick ? 2 : 5;
  const reads = quick ? 5 : 30;
  const ioSizes = new Set(quick ? [10] : [10, 1_000]);

  const admin = await connectRedis();
  if (!admin) {
    return { id: 'presence', tables: [], targets: [unmeasured()], data: { skipped: 'no Redis at 127.0.0.1:6379' } };
  }

  const { switchboard } = await loadIndex();
  const { redisBroker } = await loadRedis();
  const prefix = `sb-bench-presence-${Math.random().toString(36).slice(2)}`;
  const server = http.createServer();
  const hub = switchboard(server, { broker: redisBroker({ prefix }) });
  const sockets: WebSocket[] = [];
  hub.ws('/p', {}, { authenticate: (req) => ({ userId: new URL(req.url ?? '/', 'http://x').searchParams.get('u') ?? 'x' }) });
  hub.on('connection', ({ connection }) => {
    if (connection instanceof WebSocket) sockets.push(connection);
  });
  await hub.ready();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const clients: WebSocket[] = [];
  for (let index = 0; index < movers; index++) {
    const client = new WebSocket(`ws://127.0.0.1:${port}/p?u=mover-${index}`);
    await new Promise((resolve) => client.once('open', resolve));
    clients.push(client);
  }
  while (sockets.length < movers) await new Promise((resolve) => setTimeout(resolve, 5));
  const store = hub.realtime.link.presence;
  if (!store) throw new Error('the Redis broker has no presence store');

  const results: SizeResult[] = [];
  for (const members of sizes) {
    const room = `bench-room-${members}`;
    // Size the room: `members` users of another node, written as that node would.
    for (let start = 0; start < members; start += 1_000) {
      const batch = [];
      for (let index = start; index < Math.min(members, start + 1_000); index++) {
        batch.push(store.change(room, `member-${index}`, 'bench', 1, 1));
      }
      await Promise.all(batch);
    }
    const result: SizeResult = {
      members,
      joinUs: [],
      leaveUs: [],
      redisUsPerChange: Number.NaN,
      presenceMs: [],
      countMs: [],
      fetchSocketsMs: [],
    };
    const redisBefore = await evalStats(admin);
    for (let round = 0; round < rounds; round++) {
      result.joinUs.push(
        await timed(
          () => {
            for (const ws of sockets) hub.join(ws, room);
          },
          async () => (await hub.presenceCount(room)) === members + movers,
          movers,
        ),
      );
      result.leaveUs.push(
        await timed(
          () => {
            for (const ws of sockets) hub.leave(ws, room);
          },
          async () => (await hub.presenceCount(room)) === members,
          movers,
        ),
      );
    }
    const redisAfter = await evalStats(admin);
    const changes = redisAfter.calls - redisBefore.calls;
    result.redisUsPerChange = changes > 0 ? (redisAfter.usec - redisBefore.usec) / changes : Number.NaN;
    for (let read = 0; read < reads; read++) {
      let started = process.hrtime.bigint();
      const list = await hub.presence(room);
      result.presenceMs.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (list.length !== members) throw new Error(`presence(${room}) listed ${list.length}, not ${members}`);
      started = process.hrtime.bigint();
      await hub.presenceCount(room);
      result.countMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    if (ioSizes.has(members)) result.fetchSocketsMs = await socketIoFetchSockets(members, reads, prefix);
    for (let start = 0; start < members; start += 1_000) {
      const batch = [];
      for (let index = start; index < Math.min(members, start + 1_000); index++) {
        batch.push(store.change(room, `member-${index}`, 'bench', -1, 0));
      }
      await Promise.all(batch);
    }
    results.push(result);
    log(`presence: room of ${members.toLocaleString('en-US')} measured`);
  }
  for (const client of clients) client.terminate();
  await hub.close({ timeoutMs: 200 });
  await new Promise((resolve) => server.close(resolve));
  admin.disconnect();

  const median = (values: number[]) => summarize(values).median;
  const smallest = results[0] as SizeResult;
  const largest = results.at(-1) as SizeResult;
  const flat = median(largest.joinUs) / median(smallest.joinUs);
  const flatLeave = median(largest.leaveUs) / median(smallest.leaveUs);
  const worst = Math.max(flat, flatLeave);
  const targets: Target[] = [
    {
      name: 'presence, join and leave cost as the room grows (Redis)',
      wanted: `at ${largest.members.toLocaleString('en-US')} members ≤ ${PRESENCE_FLAT_TARGET} × at ${smallest.members}`,
      measured: `join ${num(flat)}×, leave ${num(flatLeave)}×`,
      met: worst <= PRESENCE_FLAT_TARGET,
      note: worst <= PRESENCE_FLAT_TARGET ? undefined : 'a change grows with the room',
    },
  ];
  return {
    id: 'presence',
    tables: [
      {
        title: `Presence on Redis: ${movers} ws connections joining and leaving a room that holds N other users`,
        columns: ['users in the room', 'µs per join', 'µs per leave', 'Redis µs per change', '× the smallest room (join)'],
        rows: results.map((result) => [
          result.members.toLocaleString('en-US'),
          cell(summarize(result.joinUs)),
          cell(summarize(result.leaveUs)),
          num(result.redisUsPerChange),
          ratioCell(summarize(result.joinUs.map((value) => value / median(smallest.joinUs)))),
        ]),
        notes: [
          `${rounds} rounds; a round is ${movers} hub.join calls (then as many hub.leave), timed until presenceCount shows them all, ` +
            'divided by the connections: the hub\'s work and the round trips, pipelined. "Redis µs per change" is the script\'s ' +
            'own time inside Redis (INFO commandstats, evalsha). Each connection also joins its user room once, when it opens.',
        ],
      },
      {
        title: 'Who is in the room: hub.presence(room) vs Socket.IO fetchSockets() across nodes (ms)',
        columns: [
          'users in the room',
          'hub.presence',
          'hub.presenceCount',
          'Socket.IO fetchSockets (Redis adapter, 2 nodes)',
          'presence ÷ fetchSockets',
        ],
        rows: results.map((result) => [
          result.members.toLocaleString('en-US'),
          cell(summarize(result.presenceMs)),
          cell(summarize(result.countMs)),
          result.fetchSocketsMs.length ? cell(summarize(result.fetchSocketsMs)) : '–',
          result.fetchSocketsMs.length
            ? ratioCell(summarize(result.presenceMs.map((value, index) => value / (result.fetchSocketsMs[index] ?? Number.NaN))))
            : '–',
        ]),
        notes: [
          `${reads} reads each, one after the other. presence reads two hashes of the room (O(members)); presenceCount is one HLEN. ` +
            'fetchSockets asks every Socket.IO server over Redis pub/sub and waits for each to answer with its sockets ' +
            `(one server holds the room's sockets, the other asks); it is not run at 10,000 sockets, which with their clients would pass this ` +
            "machine's 20,000 file descriptors.",
        ],
      },
    ],
    targets,
    data: results,
  };
}

/** Runs `act`, then waits until `done`; µs per item. */
async function timed(act: () => void, done: () => Promise<boolean>, items: number): Promise<number> {
  const started = process.hrtime.bigint();
  act();
  while (!(await done())) await new Promise((resolve) => setImmediate(resolve));
  return Number(process.hrtime.bigint() - started) / 1e3 / items;
}

async function evalStats(redis: import('ioredis').Redis): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const line of info.split('\n')) {
    const match = /^cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match) {
      calls += Number(match[2]);
      usec += Number(match[3]);
    }
  }
  return { calls, usec };
}

/** `io.in(room).fetchSockets()` asked from one server while the other holds `members` sockets in the room. */
async function socketIoFetchSockets(members: number, reads: number, prefix: string): Promise<number[]> {
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { Redis } = await import('ioredis');
  const redisClients: import('ioredis').Redis[] = [];
  const adapter = () => {
    const pub = new Redis('redis://127.0.0.1:6379');
    const sub = pub.duplicate();
    redisClients.push(pub, sub);
    return createAdapter(pub, sub, { key: `${prefix}:io` });
  };
  const holderServer = http.createServer();
  const askerServer = http.createServer();
  const holder = new Server(holderServer, { adapter: adapter() });
  const asker = new Server(askerServer, { adapter: adapter() });
  holder.on('connection', (socket) => socket.join('room'));
  await new Promise<void>((resolve) => holderServer.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => askerServer.listen(0, '127.0.0.1', resolve));
  const { port } = holderServer.address() as AddressInfo;
  const clients: ClientSocket[] = [];
  for (let index = 0; index < members; index++) {
    const client = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true });
    clients.push(client);
  }
  await Promise.all(
    clients.map((client) =>
      client.connected ? undefined : new Promise<void>((resolve) => client.once('connect', () => resolve())),
    ),
  );
  // The adapters subscribe as they start: a first ask waits for both to be listening.
  while ((await asker.in('room').fetchSockets()).length !== members) await new Promise((resolve) => setTimeout(resolve, 20));
  const ms: number[] = [];
  for (let read = 0; read < reads; read++) {
    const started = process.hrtime.bigint();
    const found = await asker.in('room').fetchSockets();
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (found.length !== members) throw new Error(`fetchSockets found ${found.length}, not ${members}`);
  }
  for (const client of clients) client.close();
  await holder.close();
  await asker.close();
  for (const client of redisClients) client.disconnect();
  return ms;
}

function unmeasured(): Target {
  return {
    name: 'presence, join and leave cost as the room grows (Redis)',
    wanted: `at 10,000 members ≤ ${PRESENCE_FLAT_TARGET} × at 10`,
    measured: 'no Redis',
    met: undefined,
  };
}
