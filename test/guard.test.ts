import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attempt, eventually, nextMessage, open, startApp } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';

const legacy = (name: string) => fileURLToPath(new URL(`./fixtures/legacy/${name}`, import.meta.url));

/** How each form of loading the guard is written on a command line. */
const GUARD_FLAGS = { esm: ['--import', 'switchboard/register'], cjs: ['-r', 'switchboard/register'] };

type Probe = { ws: string; expect: string } | { io: string; transports: string[]; expect: string[]; namespace?: string };

async function check(port: number, probe: Probe): Promise<void> {
  if ('ws' in probe) {
    const ws = await open(`ws://127.0.0.1:${port}${probe.ws}`);
    assert.equal(await nextMessage(ws), probe.expect, `ws ${probe.ws}`);
    ws.close();
    return;
  }
  const socket = await connectIo(`http://127.0.0.1:${port}${probe.namespace ?? ''}`, {
    path: probe.io,
    transports: probe.transports,
  });
  const heard: string[] = [];
  for (const _ of probe.expect) heard.push(await nextEvent<string>(socket, 'hello'));
  assert.deepEqual(
    heard.sort(),
    [...probe.expect].sort(),
    `Socket.IO ${probe.io}${probe.namespace ?? ''} over ${probe.transports}`,
  );
  socket.close();
}

const ALL_TRANSPORTS = [['websocket'], ['polling'], ['polling', 'websocket']];

const patterns: Array<{ name: string; files: string[]; probes: Probe[] }> = [
  {
    name: '1. a catch-all ws server beside one with a path',
    files: ['ws-catch-all-beside-path.cjs', 'ws-catch-all-beside-path.mjs', 'guard-in-entry.mjs'],
    probes: [
      { ws: '/notifications/ws', expect: 'notifications' },
      { ws: '/anything/else', expect: 'catch-all' },
    ],
  },
  {
    name: '2. a catch-all ws server beside Socket.IO',
    files: ['ws-catch-all-beside-socketio.cjs', 'ws-catch-all-beside-socketio.mjs'],
    probes: [
      ...ALL_TRANSPORTS.map((transports) => ({ io: '/socket.io', transports, expect: ['socket.io'] })),
      { ws: '/live', expect: 'ws' },
    ],
  },
  {
    name: '3. two ws servers with two paths',
    files: ['ws-two-paths.cjs', 'ws-two-paths.mjs'],
    probes: [
      { ws: '/chat', expect: 'chat' },
      { ws: '/notifications/ws', expect: 'notifications' },
    ],
  },
  {
    name: '4. two Socket.IO servers on the same path become one',
    files: ['socketio-two-servers.cjs'],
    probes: ALL_TRANSPORTS.map((transports) => ({ io: '/socket.io', transports, expect: ['main', 'admin'] })),
  },
  {
    name: '4. three Socket.IO servers on the same path serve every namespace',
    files: ['socketio-three-servers.mjs'],
    probes: [
      { io: '/socket.io', transports: ['websocket'], expect: ['main'] },
      { io: '/socket.io', transports: ['polling'], namespace: '/admin', expect: ['admin'] },
      { io: '/socket.io', transports: ['polling', 'websocket'], namespace: '/seller', expect: ['seller'] },
    ],
  },
  {
    name: '4. two Socket.IO servers on different paths keep their own',
    files: ['socketio-two-paths.cjs'],
    probes: [
      { io: '/socket.io', transports: ['websocket'], expect: ['main'] },
      { io: '/whatsapp/socket.io', transports: ['polling'], expect: ['whatsapp'] },
    ],
  },
  {
    name: "5. the app's own server.on('upgrade') beside a ws server",
    files: ['raw-listener-beside-ws.cjs', 'raw-listener-beside-ws.mjs'],
    probes: [
      { ws: '/chat', expect: 'chat' },
      { ws: '/anything', expect: 'raw' },
    ],
  },
];

describe('the guard makes unchanged legacy code work', () => {
  for (const pattern of patterns) {
    for (const file of pattern.files) {
      const flagSets = file === 'guard-in-entry.mjs' ? [[]] : [GUARD_FLAGS.esm, GUARD_FLAGS.cjs];
      for (const flags of flagSets) {
        it(`${pattern.name}: ${file} ${flags.join(' ') || '(import in the entry file)'}`, async (t) => {
          const app = await startApp(legacy(file), { nodeArgs: flags });
          t.after(app.stop);
          assert.ok(app.port, app.output());
          for (const probe of pattern.probes) await check(app.port, probe);
        });
      }
    }
  }
});

describe('without the guard, the same apps fail as documented', () => {
  it("5. a raw listener beside a ws server kills the process on the ws server's path", async () => {
    const app = await startApp(legacy('raw-listener-beside-ws.cjs'));
    assert.ok(app.port, app.output());
    await attempt(`ws://127.0.0.1:${app.port}/chat`);
    assert.notEqual(await app.exited, 0);
    assert.match(app.output(), /handleUpgrade\(\) was called more than once/);
  });

  it('4. three Socket.IO servers on one path kill the process', async () => {
    const app = await startApp(legacy('socketio-three-servers.mjs'));
    assert.ok(app.port, app.output());
    await connectIo(`http://127.0.0.1:${app.port}`, { transports: ['websocket'], timeout: 1_000 }).catch(() => {});
    assert.notEqual(await app.exited, 0);
  });

  it('1. (ESM) a catch-all beside a path kills the process', async () => {
    const app = await startApp(legacy('ws-catch-all-beside-path.mjs'));
    assert.ok(app.port, app.output());
    await attempt(`ws://127.0.0.1:${app.port}/notifications/ws`);
    assert.notEqual(await app.exited, 0);
  });
});

describe('conflicts the guard cannot merge', () => {
  it('two ws servers on one path: warned once with both call sites, the first keeps the path', async (t) => {
    const app = await startApp(legacy('ws-same-path.cjs'), { nodeArgs: GUARD_FLAGS.cjs });
    t.after(app.stop);
    assert.ok(app.port, app.output());
    const warnings = app.output().match(/switchboard: conflict: .*/g) ?? [];
    assert.equal(warnings.length, 1, app.output());
    assert.match(warnings[0] ?? '', /ws-same-path\.cjs:6:\d+.*ws-same-path\.cjs:7:\d+/);
    await check(app.port, { ws: '/chat', expect: 'first' });
  });

  it('two raw listeners, the first taking every path: warned with both call sites once it shows', async (t) => {
    const app = await startApp(legacy('two-raw-listeners.cjs'), { nodeArgs: GUARD_FLAGS.cjs });
    t.after(app.stop);
    assert.ok(app.port, app.output());
    await check(app.port, { ws: '/anything', expect: 'one' });
    assert.doesNotMatch(app.output(), /conflict/, 'one handshake shows nothing yet');
    await check(app.port, { ws: '/other', expect: 'one' });
    await eventually(() =>
      /switchboard: conflict: two 'upgrade' listeners .*two-raw-listeners\.cjs:8:\d+.*two-raw-listeners\.cjs:9:\d+/.test(
        app.output(),
      ),
    );
  });

  it('two raw listeners that each check their own path (as engine.io does): no warning, even under SWITCHBOARD_STRICT=1', async (t) => {
    const app = await startApp(legacy('two-raw-listeners-own-paths.cjs'), {
      nodeArgs: GUARD_FLAGS.cjs,
      env: { SWITCHBOARD_STRICT: '1' },
    });
    t.after(app.stop);
    assert.ok(app.port, app.output());
    await check(app.port, { ws: '/one', expect: 'one' });
    await check(app.port, { ws: '/two', expect: 'two' });
    await check(app.port, { ws: '/three', expect: 'two' });
    await check(app.port, { ws: '/one', expect: 'one' });
    assert.doesNotMatch(app.output(), /switchboard: (conflict|warning)/);
  });

  it('SWITCHBOARD_STRICT=1 makes a conflict a start-up error with the same text', async () => {
    const app = await startApp(legacy('ws-same-path.cjs'), { nodeArgs: GUARD_FLAGS.cjs, env: { SWITCHBOARD_STRICT: '1' } });
    assert.equal(app.port, undefined, 'the app never listened');
    assert.notEqual(await app.exited, 0);
    assert.match(app.output(), /SwitchboardError.*switchboard: conflict: two WebSocket servers claim "\/chat"/);
    assert.match(app.output(), /at .*ws-same-path\.cjs:7/, 'thrown from the second server line');
  });

  it('SWITCHBOARD_STRICT=1 makes a Socket.IO merge a start-up error too', async () => {
    const app = await startApp(legacy('socketio-two-servers.cjs'), {
      nodeArgs: GUARD_FLAGS.cjs,
      env: { SWITCHBOARD_STRICT: '1' },
    });
    assert.equal(app.port, undefined);
    assert.match(app.output(), /two Socket.IO servers on \/socket.io/);
  });
});
