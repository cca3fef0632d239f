import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import {
  type Broker,
  memoryBroker,
  PRESENCE_EVENT,
  type PresenceEvent,
  type PresenceMember,
  type Switchboard,
  switchboard,
} from '../src/index.js';
import { startClusterNode } from './cluster-node.js';
import { closed, closeServer, eventually, failure, listen, open, PrivateRedis } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';
import { identityFromQuery, mountLive } from './live-routes.js';

const REDIS = 'redis://127.0.0.1:6379';

interface InProcessNode {
  server: http.Server;
  hub: Switchboard;
  url: string;
  events: PresenceEvent[];
  /** Server-side ws connections of /live, in the order they opened. */
  sockets: WebSocket[];
}

/** A hub with the rooms tests' routes (`/live`: `join:<room>`/`leave:<room>`), recording presence events. */
async function inProcessNode(broker: Broker): Promise<InProcessNode> {
  const server = http.createServer();
  const hub = switchboard(server, { broker });
  mountLive(hub);
  const events: PresenceEvent[] = [];
  hub.on('presence', (event) => events.push(event));
  const sockets: WebSocket[] = [];
  hub.on('connection', ({ connection, route }) => {
    if (route.pattern === '/live' && connection instanceof WebSocket) sockets.push(connection);
  });
  await hub.ready();
  const { port } = await listen(server);
  return { server, hub, url: `ws://127.0.0.1:${port}`, events, sockets };
}

async function stopNode(node: InProcessNode): Promise<void> {
  await node.hub.close({ timeoutMs: 200 });
  await closeServer(node.server);
}

async function joined(url: string, rooms: string[]): Promise<WebSocket> {
  const ws = await open(url);
  const seen: string[] = [];
  ws.on('message', (data) => seen.push(String(data)));
  for (const room of rooms) ws.send(`join:${room}`);
  await eventually(() => rooms.every((room) => seen.includes(`ok join:${room}`)));
  return ws;
}

function sorted(members: PresenceMember[]): PresenceMember[] {
  return [...members].sort((a, b) => a.userId.localeCompare(b.userId));
}

function eventsIn(events: PresenceEvent[], room: string): string[] {
  return events.filter((event) => event.room === room).map((event) => `${event.type} ${event.userId}`);
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`presence with the ${kind} broker: two nodes`, () => {
    let a: InProcessNode;
    let b: InProcessNode;
    before(async () => {
      const shared = memoryBroker();
      const prefix = `presence-${randomUUID()}`;
      const broker = () => (kind === 'memory' ? shared : redisBroker({ url: REDIS, prefix }));
      a = await inProcessNode(broker());
      b = await inProcessNode(broker());
    });
    after(async () => {
      await Promise.all([a && stopNode(a), b && stopNode(b)]);
    });

    it('counts each user once, with their connections on every node, ws and Socket.IO alike', async () => {
      const ann1 = await joined(`${a.url}/live?user=ann&tenant=acme`, ['r1']);
      const ann2 = await joined(`${b.url}/live?user=ann&tenant=acme`, ['r1']);
      const bob = await joined(`${b.url}/live?user=bob&tenant=acme`, ['r1']);
      const io = await connectIo(`${a.url.replace('ws', 'http')}?user=ann&tenant=acme`, {
        transports: ['websocket'],
        query: { user: 'ann', tenant: 'acme' },
      });
      const expected = [
        { userId: 'ann', tenantId: 'acme', connections: 2 },
        { userId: 'bob', tenantId: 'acme', connections: 1 },
      ];
      await eventually(async () => (await b.hub.presence('r1')).length === 2);
      assert.deepEqual(sorted(await a.hub.presence('r1')), expected);
      assert.deepEqual(sorted(await b.hub.presence('r1')), expected);
      assert.equal(await a.hub.presenceCount('r1'), 2);
      // The tenant room: every connection of the tenant, Socket.IO's session among them.
      await eventually(async () => (await a.hub.presence('tenant:acme')).find((m) => m.userId === 'ann')?.connections === 3);
      assert.deepEqual(sorted(await b.hub.presence('user:ann')), [{ userId: 'ann', tenantId: 'acme', connections: 3 }]);

      // One join per user and node, not one per connection.
      for (const node of [a, b]) assert.deepEqual(eventsIn(node.events, 'r1').sort(), ['join ann', 'join bob']);

      ann1.close();
      await closed(ann1);
      await eventually(async () => (await a.hub.presence('r1')).find((m) => m.userId === 'ann')?.connections === 1);
      assert.equal(eventsIn(b.events, 'r1').includes('leave ann'), false, 'ann is still there, on node B');
      ann2.close();
      await eventually(() => eventsIn(a.events, 'r1').includes('leave ann') && eventsIn(b.events, 'r1').includes('leave ann'));
      assert.deepEqual(sorted(await a.hub.presence('r1')), [{ userId: 'bob', tenantId: 'acme', connections: 1 }]);
      assert.equal(
        eventsIn(a.events, 'tenant:acme').filter((event) => event === 'leave ann').length,
        0,
        'the Socket.IO session keeps ann in the tenant',
      );
      io.close();
      await eventually(() => eventsIn(b.events, 'tenant:acme').includes('leave ann'));
      bob.close();
      await eventually(async () => (await b.hub.presenceCount('r1')) === 0);
      for (const node of [a, b]) {
        assert.deepEqual(
          eventsIn(node.events, 'r1'),
          ['join ann', 'join bob', 'leave ann', 'leave bob'].filter((e) => eventsIn(node.events, 'r1').includes(e)),
        );
        assert.equal(eventsIn(node.events, 'r1').length, 4, 'one event per transition per node');
      }
    });

    it('follows Socket.IO rooms the app joins', async () => {
      const io = await connectIo(`${b.url.replace('ws', 'http')}`, {
        transports: ['websocket'],
        query: { user: 'cid', tenant: 'acme' },
      });
      const server = [...b.hub.io().sockets.sockets.values()].find((socket) => socket.data.userId === 'cid');
      assert.ok(server);
      server.join('room:io');
      await eventually(async () => (await a.hub.presence('room:io')).length === 1);
      assert.deepEqual(await a.hub.presence('room:io'), [{ userId: 'cid', tenantId: 'acme', connections: 1 }]);
      server.leave('room:io');
      await eventually(async () => (await a.hub.presenceCount('room:io')) === 0);
      await eventually(() => eventsIn(a.events, 'room:io').join() === 'join cid,leave cid');
      io.close();
    });

    it('ends consistent after rapid joins and leaves on both nodes (fast-check)', async () => {
      const users = ['u0', 'u1', 'u2'];
      const rooms = ['churn:a', 'churn:b'];
      // Two connections per user and node, opened once; the property drives their rooms server-side.
      const clients: WebSocket[] = [];
      for (const node of [a, b]) {
        const before = node.sockets.length;
        for (const user of users) for (let i = 0; i < 2; i++) clients.push(await open(`${node.url}/live?user=${user}&tenant=t`));
        await eventually(() => node.sockets.length === before + users.length * 2);
      }
      const serverSide = [...a.sockets.slice(-6), ...b.sockets.slice(-6)];
      const userOf = (index: number) => users[Math.floor((index % 6) / 2)] as string;
      const hubOf = (index: number) => (index < 6 ? a.hub : b.hub);
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(fc.nat(11), fc.constantFrom(...rooms), fc.boolean()), { minLength: 1, maxLength: 60 }),
            async (steps) => {
              const startA = a.events.length;
              const startB = b.events.length;
              for (const [index, room, join] of steps) {
                const ws = serverSide[index] as WebSocket;
                if (join) hubOf(index).join(ws, room);
                else hubOf(index).leave(ws, room);
              }
              // The truth: who is in each room now, from the hubs' own room books.
              const truth = (room: string) => {
                const counts = new Map<string, number>();
                serverSide.forEach((ws, index) => {
                  if (hubOf(index).realtime.rooms.rooms(ws).has(room))
                    counts.set(userOf(index), (counts.get(userOf(index)) ?? 0) + 1);
                });
                return [...counts]
                  .map(([userId, connections]) => ({ userId, tenantId: 't', connections }))
                  .sort((x, y) => x.userId.localeCompare(y.userId));
              };
              for (const room of rooms) {
                await eventually(
                  async () => JSON.stringify(sorted(await a.hub.presence(room))) === JSON.stringify(truth(room)),
                  5_000,
                );
                assert.deepEqual(sorted(await b.hub.presence(room)), truth(room));
                assert.equal(await b.hub.presenceCount(room), truth(room).length);
              }
              // Each node's events alternate join/leave per user and room, and end where the truth is.
              for (const [node, start] of [
                [a, startA],
                [b, startB],
              ] as const) {
                await eventually(() => {
                  for (const room of rooms) {
                    for (const user of users) {
                      const inRoom = truth(room).some((m) => m.userId === user);
                      const last = node.events
                        .slice(start)
                        .filter((e) => e.room === room && e.userId === user)
                        .at(-1);
                      if (last !== undefined && (last.type === 'join') !== inRoom) return false;
                    }
                  }
                  return true;
                }, 5_000);
              }
              for (const node of [a, b]) {
                for (const room of rooms) {
                  for (const user of users) {
                    const types = node.events.filter((e) => e.room === room && e.userId === user).map((e) => e.type);
                    for (const [i, type] of types.entries()) {
                      assert.equal(type, i % 2 === 0 ? 'join' : 'leave', `${room} ${user}: ${types}`);
                    }
                  }
                }
              }
            },
          ),
          { numRuns: kind === 'redis' ? 15 : 40 },
        );
      } finally {
        for (const ws of clients) ws.close();
      }
    });
  });
}

describe('presence pushed to clients: routes with presence: true', () => {
  let server: http.Server;
  let hub: Switchboard;
  let url = '';
  before(async () => {
    server = http.createServer();
    hub = switchboard(server);
    hub.ws('/told', {}, { authenticate: identityFromQuery, presence: true }).on('connection', (ws) => hub.join(ws, 'lobby'));
    hub.ws('/quiet', {}, { authenticate: identityFromQuery }).on('connection', (ws) => hub.join(ws, 'lobby'));
    hub.io(undefined, { authenticate: identityFromQuery, presence: true }).on('connection', (socket) => socket.join('lobby'));
    url = (await listen(server)).url;
  });
  after(async () => {
    await hub.close({ timeoutMs: 100 });
    await closeServer(server);
  });

  it('ws: a hello, who is in each room it enters, then joins and leaves; the other route hears nothing', async () => {
    const quiet = new WebSocket(`${url}/quiet?user=q&tenant=t`);
    const quietFrames: string[] = [];
    quiet.on('message', (data) => quietFrames.push(String(data)));
    await new Promise((resolve) => quiet.once('open', resolve));
    const frames: Array<Record<string, unknown>> = [];
    const watcher = new WebSocket(`${url}/told?user=watcher&tenant=t`);
    watcher.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve) => watcher.once('open', resolve));
    await eventually(() => frames.some((frame) => frame.type === 'state' && frame.room === 'lobby'));
    assert.deepEqual(frames[0], { sb: 'hello', presence: true });
    const state = frames.find((frame) => frame.type === 'state' && frame.room === 'lobby');
    assert.ok(((state?.members ?? []) as PresenceMember[]).some((member) => member.userId === 'q'));

    const ann = await open(`${url}/quiet?user=ann&tenant=t`);
    await eventually(() => frames.some((frame) => frame.type === 'join' && frame.userId === 'ann' && frame.room === 'lobby'));
    assert.deepEqual(
      frames.find((frame) => frame.type === 'join' && frame.userId === 'ann' && frame.room === 'lobby'),
      { sb: 'presence', room: 'lobby', userId: 'ann', tenantId: 't', type: 'join' },
    );
    ann.close();
    await eventually(() => frames.some((frame) => frame.type === 'leave' && frame.userId === 'ann' && frame.room === 'lobby'));
    assert.deepEqual(quietFrames, [], 'a route without presence: true gets no frame of it');
    watcher.close();
    quiet.close();
  });

  it('Socket.IO: the switchboard:presence event, to the sockets in the room', async () => {
    const socket = await connectIo(url.replace('ws', 'http'), { transports: ['websocket'], query: { user: 'sio', tenant: 't' } });
    const seen: Array<Record<string, unknown>> = [];
    socket.on(PRESENCE_EVENT, (payload: Record<string, unknown>) => seen.push(payload));
    const bea = await open(`${url}/quiet?user=bea&tenant=t`);
    await eventually(() =>
      seen.some((payload) => payload.type === 'join' && payload.userId === 'bea' && payload.room === 'lobby'),
    );
    assert.deepEqual(
      seen.find((payload) => payload.userId === 'bea' && payload.room === 'lobby'),
      { sb: 'presence', room: 'lobby', userId: 'bea', tenantId: 't', type: 'join' },
    );
    bea.close();
    await nextEvent(socket, PRESENCE_EVENT);
    socket.close();
  });
});

describe('presence misuse', () => {
  it('refuses bad arguments and options with a clear error', async () => {
    const hub = switchboard(http.createServer());
    assert.match(failure(() => hub.presence('' as string)).message, /room must be a non-empty string/);
    assert.match(failure(() => hub.presenceCount(42 as unknown as string)).message, /room must be a non-empty string/);
    assert.match(
      failure(() => hub.ws('/x', {}, { presence: 'yes' as unknown as boolean })).message,
      /presence must be true or false/,
    );
    assert.match(
      failure(() => switchboard(http.createServer(), { presence: 1 as unknown as boolean })).message,
      /presence must be true or false/,
    );
    const off = switchboard(http.createServer(), { presence: false });
    const error = failure(() => off.presence('room'));
    assert.equal(error.code, 'ERR_INVALID_OPTION');
    assert.match(error.message, /keeps no presence/);
  });
});

describe('presence across processes on Redis: a node that dies, a Redis that restarts', () => {
  it('three nodes: a node killed with SIGKILL leaves, for its users only, within 30 s', { timeout: 60_000 }, async (t) => {
    const env = { REDIS_URL: REDIS, PREFIX: `presence-${randomUUID()}` };
    const [a, b, c] = await Promise.all([startClusterNode(env), startClusterNode(env), startClusterNode(env)]);
    t.after(() => Promise.all([a.stop(), b.stop(), c.stop()]));
    const clients = [
      await joined(`${a.ws}/live?user=ann&tenant=t`, ['rk']),
      await joined(`${b.ws}/live?user=ann&tenant=t`, ['rk']),
      await joined(`${b.ws}/live?user=bob&tenant=t`, ['rk']),
    ];
    const io = await connectIo(c.base, { transports: ['websocket'], query: { user: 'cat', tenant: 't' } });
    await new Promise<void>((resolve) => io.emit('join', 'rk', resolve));
    await eventually(async () => (await c.do<PresenceMember[]>('presence', { room: 'rk' })).length === 3);
    assert.deepEqual(sorted(await a.do('presence', { room: 'rk' })), [
      { userId: 'ann', tenantId: 't', connections: 2 },
      { userId: 'bob', tenantId: 't', connections: 1 },
      { userId: 'cat', tenantId: 't', connections: 1 },
    ]);

    await b.stop(); // SIGKILL: no goodbye
    const killedAt = Date.now();
    await eventually(
      async () => eventsIn(await a.do<PresenceEvent[]>('presence-events'), 'rk').includes('leave bob'),
      30_000,
      'bob leaves on node A within 30 s',
    );
    assert.ok(Date.now() - killedAt < 30_000);
    await eventually(async () => eventsIn(await c.do<PresenceEvent[]>('presence-events'), 'rk').includes('leave bob'));
    for (const node of [a, c]) {
      const events = eventsIn(await node.do<PresenceEvent[]>('presence-events'), 'rk');
      assert.equal(events.filter((event) => event === 'leave bob').length, 1, 'one leave per node');
      assert.equal(events.includes('leave ann'), false, 'ann is still on node A');
    }
    assert.deepEqual(sorted(await c.do('presence', { room: 'rk' })), [
      { userId: 'ann', tenantId: 't', connections: 1 },
      { userId: 'cat', tenantId: 't', connections: 1 },
    ]);
    io.close();
    for (const ws of clients) ws.terminate();
  });

  it('a Redis restart: presence is written again from the live connections', { timeout: 60_000 }, async (t) => {
    const redis = new PrivateRedis(16391);
    await redis.answering();
    const env = { REDIS_URL: redis.url, PREFIX: 'presence-restart' };
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    t.after(async () => {
      await Promise.all([a.stop(), b.stop()]);
      redis.kill();
    });
    const clients = [
      await joined(`${a.ws}/live?user=ann&tenant=t`, ['rr']),
      await joined(`${b.ws}/live?user=bob&tenant=t`, ['rr']),
      await joined(`${b.ws}/live?user=bob&tenant=t`, ['rr']),
    ];
    const expected = [
      { userId: 'ann', tenantId: 't', connections: 1 },
      { userId: 'bob', tenantId: 't', connections: 2 },
    ];
    await eventually(async () => JSON.stringify(sorted(await a.do('presence', { room: 'rr' }))) === JSON.stringify(expected));

    redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    redis.restart();
    await redis.answering();
    // Nothing survived in Redis: what presence shows now was written again by the nodes.
    await eventually(
      async () => {
        try {
          return JSON.stringify(sorted(await b.do('presence', { room: 'rr' }))) === JSON.stringify(expected);
        } catch {
          return false;
        }
      },
      20_000,
      'presence rebuilt after the restart',
    );
    clients[0]?.close();
    await eventually(async () => eventsIn(await b.do<PresenceEvent[]>('presence-events'), 'rr').includes('leave ann'));
    for (const ws of clients) ws.terminate();
  });
});
