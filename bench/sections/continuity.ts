/**
 * Continuity: what history costs a publish, how long recovering 1,000 missed messages takes, and
 * what a room's stream holds in memory. In-process, with real loopback sockets: the publishes are
 * timed around `hub.publish` alone (the server's work, writes into the sockets included), with
 * history on and off in one run, interleaved; recovery is timed from the reconnect to the last
 * replayed message, beside Socket.IO's connectionStateRecovery doing the same.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { Context } from '../context.js';
import { loadIndex, loadRedis } from '../library.js';
import { connectRedis } from '../redis.js';
import { bytes, cell, num, ratioCell, type SectionResult, type Target } from '../report.js';
import { summarize } from '../stats.js';
import { publishRounds, room } from './publish-room.js';

export const HISTORY_PUBLISH_TARGET = 1.2;
const MISSED = 1_000;
const PAYLOAD = 'x'.repeat(64);

export async function continuitySection(context: Context): Promise<SectionResult> {
  const { config, log } = context;
  const quick = config.rounds.routing < 5;
  const rounds = quick ? 2 : 7;
  const batches = quick ? 3 : 40;
  // The quick run checks that every figure can be had, in a few seconds; the full one measures.
  const members = quick ? 20 : 100;
  const streamRooms = quick ? 10 : 200;
  const { switchboard } = await loadIndex();

  // --- publish cost, history off vs on (recovering members) ---
  const plain = await room(switchboard, undefined, false, members);
  const withHistory = await room(switchboard, { size: 1_000, ttlMs: 60_000 }, true, members);
  await publishRounds(plain, 2);
  await publishRounds(withHistory, 2);
  const offNs: number[] = [];
  const onNs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    offNs.push(await publishRounds(plain, batches));
    onNs.push(await publishRounds(withHistory, batches));
    log(`continuity: publish round ${round + 1}/${rounds} done`);
  }
  await plain.stop();
  await withHistory.stop();
  const ratio = summarize(onNs.map((value, index) => value / (offNs[index] ?? Number.NaN)));

  // --- recovering 1,000 missed messages: the hub vs Socket.IO's connectionStateRecovery ---
  const hubMs: number[] = [];
  const ioMs: number[] = [];
  for (let round = 0; round < (quick ? 1 : 5); round++) {
    hubMs.push(await hubRecovery(switchboard));
    ioMs.push(await socketIoRecovery());
  }

  // --- Redis: what one publish costs Redis, history off and on ---
  const redisCalls = await redisCommandsPerPublish(switchboard, quick ? 200 : 2_000);

  // --- memory of a room's stream of 1,000 messages ---
  const perStream = await streamMemory(switchboard, streamRooms);

  const met = ratio.median <= HISTORY_PUBLISH_TARGET;
  const oneRoundTrip = redisCalls.on <= 1.01;
  const targets: Target[] = [
    {
      name: 'continuity, publish with history (memory broker)',
      wanted: `≤ ${HISTORY_PUBLISH_TARGET} × a publish without history`,
      measured: ratioCell(ratio),
      met,
      note: met ? undefined : `over by ${((ratio.median - HISTORY_PUBLISH_TARGET) * 100).toFixed(0)} points`,
    },
    {
      name: 'continuity, publish with history (Redis)',
      wanted: 'one Redis round trip per publish',
      measured: `${num(redisCalls.on)} round trips per publish`,
      met: Number.isFinite(redisCalls.on) ? oneRoundTrip : undefined,
    },
  ];
  const recoveryRatio = summarize(hubMs.map((value, index) => value / (ioMs[index] ?? Number.NaN)));
  return {
    id: 'continuity',
    tables: [
      {
        title: `Continuity: publish to a room of ${members} connections, 64 B (server µs per publish)`,
        columns: ['case', 'µs per publish', '× history off'],
        rows: [
          ['history off, plain route', cell(summarize(offNs.map((ns) => ns / 1000))), '1.00'],
          ['history on (1,000 per room), recover: true', cell(summarize(onNs.map((ns) => ns / 1000))), ratioCell(ratio)],
        ],
        notes: [
          `${rounds} rounds, interleaved, of ${batches} batches of 100 publishes; only the hub.publish calls are timed, ` +
            'the sockets drained between batches. With history, each publish is appended to the room stream and its ' +
            'positioned frame built once for every recovering member.',
        ],
      },
      {
        title: `Recovering ${MISSED.toLocaleString('en-US')} missed messages (ms from reconnect to the last one)`,
        columns: ['case', 'ms', '× Socket.IO'],
        rows: [
          ['Switchboard, recover: true (memory broker)', cell(summarize(hubMs)), ratioCell(recoveryRatio)],
          ['Socket.IO connectionStateRecovery (in-memory adapter)', cell(summarize(ioMs)), '1.00'],
        ],
        notes: [
          'One client, websocket transport; the messages published while it was away, 64 B each. Timed from the ' +
            "reconnection (the hub's new WebSocket; Socket.IO's reconnect_attempt, backoff off) to the last missed message.",
        ],
      },
      {
        title: 'Redis: round trips per hub.publish (commands sent, as MONITOR shows them)',
        columns: ['case', 'round trips per publish'],
        rows: [
          ['redisBroker, history off (PUBLISH)', num(redisCalls.off)],
          ['redisBroker, history on (one script)', num(redisCalls.on)],
        ],
        notes: [
          'Counted by Redis over the publishes of one hub: the commands clients sent, not those run inside a script. ' +
            'History on is one script: position, stream entry, trim, expiry and the message to the other nodes together.',
        ],
      },
      {
        title: `Memory of a room stream of ${MISSED.toLocaleString('en-US')} messages of 64 B`,
        columns: ['measure', 'value'],
        rows: [
          ['heap per stream', bytes(perStream)],
          ['per message', bytes(perStream / MISSED)],
          ['× payload bytes', num(perStream / MISSED / PAYLOAD.length)],
        ],
        notes: [
          `${streamRooms} rooms filled, heap measured after a forced GC; a message is kept as its whole positioned frame ` +
            '(the envelope with room, offset and epoch), so that a replay sends it as it is.',
        ],
      },
    ],
    targets,
    data: { offNs, onNs, hubMs, ioMs, perStream, redisCalls },
  };
}

type Switchboard = Awaited<ReturnType<typeof loadIndex>>['switchboard'];

async function hubRecovery(switchboard: Switchboard): Promise<number> {
  const server = http.createServer();
  const hub = switchboard(server, { history: { size: MISSED * 2, ttlMs: 60_000 } });
  hub.ws('/live', {}, { recover: true }).on('connection', (ws) => hub.join(ws, 'room'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let position: [number, string] | undefined;
  const first = new WebSocket(`ws://127.0.0.1:${port}/live`);
  await new Promise<void>((resolve) =>
    first.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.sb === 'pos') {
        position = [frame.offset, frame.epoch];
        resolve();
      }
    }),
  );
  first.terminate();
  for (let index = 0; index < MISSED; index++) hub.publish('room', PAYLOAD);
  const resume = Buffer.from(JSON.stringify({ room: position })).toString('base64url');
  const started = process.hrtime.bigint();
  const second = new WebSocket(`ws://127.0.0.1:${port}/live?sb_resume=${resume}`);
  let replayed = 0;
  await new Promise<void>((resolve) =>
    second.on('message', (data) => {
      if (JSON.parse(data.toString()).sb === 'msg' && ++replayed === MISSED) resolve();
    }),
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  second.terminate();
  await hub.close({ timeoutMs: 100 });
  await new Promise((resolve) => server.close(resolve));
  return ms;
}

async function socketIoRecovery(): Promise<number> {
  const { Server } = await import('socket.io');
  const server = http.createServer();
  const io = new Server(server, { connectionStateRecovery: { maxDisconnectionDuration: 60_000 } });
  io.on('connection', (socket) => socket.join('room'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = ioClient(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    reconnectionDelay: 0,
    reconnectionDelayMax: 0,
  });
  let received = 0;
  let onAll: (() => void) | undefined;
  client.on('m', () => {
    if (++received === MISSED + 1) onAll?.();
  });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  // One packet first: Socket.IO saves a session's offset only once a packet reached it.
  io.to('room').emit('m', PAYLOAD);
  while (received < 1) await new Promise((resolve) => setImmediate(resolve));
  const down = new Promise<void>((resolve) => client.once('disconnect', () => resolve()));
  for (const live of io.sockets.sockets.values()) live.conn.close();
  await down;
  // Timed from the client's reconnection attempt, as the hub's is from its new WebSocket: the backoff is not counted.
  let started = process.hrtime.bigint();
  client.io.once('reconnect_attempt', () => {
    started = process.hrtime.bigint();
  });
  for (let index = 0; index < MISSED; index++) io.to('room').emit('m', PAYLOAD);
  await new Promise<void>((resolve) => {
    onAll = resolve;
    if (received === MISSED + 1) resolve();
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  client.close();
  await io.close();
  return ms;
}

async function streamMemory(switchboard: Switchboard, rooms: number): Promise<number> {
  // This process runs without --expose-gc: the flag can still be set, and gc fetched from a new context.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  const settle = () => {
    gc?.();
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const server = http.createServer();
  const hub = switchboard(server, { history: { size: MISSED, ttlMs: 60_000 } });
  const before = settle();
  for (let room = 0; room < rooms; room++) {
    const name = `room-${room}`;
    for (let index = 0; index < MISSED; index++) hub.publish(name, `${PAYLOAD.slice(0, 60)}${String(index).padStart(4, '0')}`);
  }
  const after = settle();
  await hub.close({ timeoutMs: 100 });
  return (after - before) / rooms;
}

/**
 * Round trips to Redis per publish of one hub, history off and on, as Redis saw them: the
 * commands clients sent (MONITOR), not those a script ran inside. NaN where Redis is not there.
 */
async function redisCommandsPerPublish(switchboard: Switchboard, count: number): Promise<{ off: number; on: number }> {
  const { redisBroker } = await loadRedis();
  const probe = await connectRedis();
  if (!probe) return { off: Number.NaN, on: Number.NaN };
  const monitor = await probe.monitor();
  let sent = 0;
  let counting = false;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    // Commands run by a script come from "lua"; the broker's heartbeat (SET of its liveness key) is not a publish's.
    if (counting && source !== 'lua' && /^(evalsha|eval|publish)$/i.test(args[0] ?? '')) sent++;
  });
  const measure = async (history: boolean) => {
    const server = http.createServer();
    const prefix = `sb-bench-${Math.random().toString(36).slice(2)}`;
    const hub = switchboard(server, {
      broker: redisBroker({ prefix }),
      ...(history && { history: { size: 1_000, ttlMs: 60_000 } }),
    });
    await hub.ready();
    sent = 0;
    counting = true;
    for (let index = 0; index < count; index++) hub.publish('room', PAYLOAD);
    await new Promise((resolve) => setTimeout(resolve, 300));
    counting = false;
    await hub.close({ timeoutMs: 100 });
    return sent / count;
  };
  const off = await measure(false);
  const on = await measure(true);
  monitor.disconnect();
  probe.disconnect();
  return { off, on };
}
