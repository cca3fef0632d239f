import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { redisBroker } from '../src/cluster/redis.js';
import { type DashboardState, DISCONNECTED_CLOSE_CODE, type Switchboard, switchboard } from '../src/index.js';
import { launchChromium } from './browser/chromium.js';
import { closed, closeServer, eventually, failure, listen, open } from './helpers.js';
import { connectIo } from './io-helpers.js';

const COOKIE = 'ops=let-me-in';
const authenticate = (req: http.IncomingMessage) => (req.headers.cookie?.includes(COOKIE) ? { userId: 'operator' } : null);

interface Node {
  server: http.Server;
  hub: Switchboard;
  base: string;
  clients: WebSocket[];
}

async function startNode(prefix: string, options: { readonly?: boolean; dashboard?: boolean } = {}): Promise<Node> {
  const server = http.createServer((_req, res) => res.end('app'));
  const hub = switchboard(server, { broker: redisBroker({ url: 'redis://127.0.0.1:6379', prefix }) });
  hub.ws(
    '/chat',
    {},
    {
      authenticate: (req) => {
        const query = new URL(req.url ?? '/', 'http://x').searchParams;
        return { userId: query.get('user') ?? 'anon', tenantId: query.get('tenant') ?? undefined };
      },
    },
  );
  hub.io().of('/admin');
  const { dashboard = true, ...dashboardOptions } = options;
  if (dashboard) hub.dashboard('/_ops', { authenticate, ...dashboardOptions });
  await hub.ready();
  const { port } = await listen(server);
  return { server, hub, base: `http://127.0.0.1:${port}`, clients: [] };
}

async function stopNode(node: Node): Promise<void> {
  for (const ws of node.clients) ws.terminate();
  await node.hub.close({ timeoutMs: 200 });
  await closeServer(node.server);
}

async function state(node: Node): Promise<DashboardState> {
  const response = await fetch(`${node.base}/_ops/state`, { headers: { cookie: COOKIE } });
  assert.equal(response.status, 200);
  return (await response.json()) as DashboardState;
}

describe('hub.dashboard(): the operations page, for every node of the cluster', () => {
  const prefix = `dashboard-${randomUUID()}`;
  let a: Node;
  let b: Node;
  let browser: Browser | undefined;
  let admin: Awaited<ReturnType<typeof connectIo>> | undefined;
  before(async () => {
    a = await startNode(prefix);
    b = await startNode(prefix);
    const ws = (node: Node, query: string) => open(`${node.base.replace('http', 'ws')}/chat?${query}`);
    a.clients.push(await ws(a, 'user=u1&tenant=acme'), await ws(a, 'user=u2&tenant=acme'));
    b.clients.push(await ws(b, 'user=u3&tenant=globex'));
    admin = await connectIo(`${a.base}/admin`, { transports: ['websocket'] });
  });
  after(async () => {
    admin?.close();
    await browser?.close();
    for (const node of [a, b]) if (node?.server.listening) await stopNode(node);
  });

  it('refuses to mount without authenticate unless insecure, and refuses unknown options', () => {
    const hub = switchboard(http.createServer());
    const missing = failure(() => hub.dashboard('/_switchboard'));
    assert.equal(missing.code, 'ERR_INVALID_OPTION');
    assert.match(missing.message, /will not mount without authenticate/);
    assert.match(
      failure(() => hub.dashboard('/_switchboard', { authenticate, readOnly: true } as never)).message,
      /unknown option "readOnly"/,
    );
    assert.match(failure(() => hub.dashboard('/ops/:id', { authenticate })).message, /fixed path/);
    assert.equal(hub.dashboard('/_open', { insecure: true }).routes.length, 2);
  });

  it('answers 401 without credentials: page, state and live channel', async () => {
    assert.equal((await fetch(`${a.base}/_ops`)).status, 401);
    assert.equal((await fetch(`${a.base}/_ops/state`)).status, 401);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${a.base.replace('http', 'ws')}/_ops/live`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    assert.equal(refused, 401);
    // The app's own requests are untouched.
    assert.equal(await (await fetch(`${a.base}/elsewhere`)).text(), 'app');
  });

  it('shows both nodes with their connections, as JSON and on the page in Chromium', async () => {
    // Node B's report comes every 5 s: wait for one made after its client connected.
    await eventually(
      async () => (await state(a)).totals.connections === 4,
      12_000,
      'both nodes, with their connections, on node A',
    );
    const seen = await state(a);
    assert.deepEqual(
      seen.nodes.map((node) => node.stats.connections),
      [3, 1],
      'node A: two ws connections and a Socket.IO session; node B: one ws connection',
    );
    assert.equal(seen.nodes.length, 2);
    assert.deepEqual(seen.nodes[0]?.activity.tenants, { acme: 2 });
    assert.deepEqual(seen.nodes[1]?.activity.tenants, { globex: 1 });
    assert.ok(seen.nodes[0]?.activity.namespaces.some((nsp) => nsp.namespace === '/admin' && nsp.sockets === 1));
    assert.equal(seen.nodes[0]?.id, a.hub.realtime.link.nodeId, 'this node first');
    assert.ok(seen.nodes.every((node) => node.pid === process.pid && node.routes.some((route) => route.pattern === '/chat')));
    assert.equal(seen.readonly, true);
    await eventually(async () => (await state(a)).presence?.tenants.globex === 1, 5_000, 'users online per tenant');
    assert.deepEqual((await state(a)).presence?.tenants, { acme: 2, globex: 1 });
    const room = await fetch(`${a.base}/_ops/presence/${encodeURIComponent('tenant:acme')}`, { headers: { cookie: COOKIE } });
    assert.deepEqual(await room.json(), {
      room: 'tenant:acme',
      count: 2,
      members: [
        { userId: 'u1', tenantId: 'acme', connections: 1 },
        { userId: 'u2', tenantId: 'acme', connections: 1 },
      ],
    });

    browser = await launchChromium();
    const context = await browser.newContext();
    await context.addCookies([{ name: 'ops', value: 'let-me-in', domain: '127.0.0.1', path: '/' }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(`${a.base}/_ops`);
    await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 5_000 });
    await page.locator('tr[data-node]').nth(1).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('tr[data-node]').count(), 2);
    // Four app connections and the page's own live channel (a connection of the /_ops/* route).
    await page.waitForFunction(() => document.querySelector('[data-total="connections"]')?.textContent === '5', undefined, {
      timeout: 12_000,
    });
    // Live: a new connection on node B shows on node A's page without a reload.
    b.clients.push(await open(`${b.base.replace('http', 'ws')}/chat?user=u4`));
    await page.waitForFunction(() => document.querySelector('[data-total="connections"]')?.textContent === '6', undefined, {
      timeout: 12_000,
    });
    assert.match((await page.locator('tr[data-tenant="acme"]').textContent()) ?? '', /acme\s*2/);
    assert.match((await page.locator('tr[data-namespace="/admin"]').textContent()) ?? '', /\/admin\s*1$/);
    assert.equal(await page.locator('#chart polyline').count(), 2, 'accepted and refused over time');
    assert.equal(await page.locator('#actions').isHidden(), true, 'read-only by default: no actions');
    // A user on the other node, found from this one; read-only, so no Close button.
    await page.fill('#lookup input', 'u3');
    await page.click('#lookup button');
    await page.locator('tr[data-connection]').first().waitFor({ timeout: 5_000 });
    const row = (await page.locator('tr[data-connection]').textContent()) ?? '';
    assert.ok(row.includes(b.hub.realtime.link.nodeId) && row.includes('/chat'), row);
    assert.equal(await page.locator('tr[data-connection] button').count(), 0);
    // Presence: users online per tenant, cluster-wide, and who is in a room.
    await page.waitForFunction(
      () => document.querySelector('tr[data-tenant="acme"] [data-online]')?.textContent === '2',
      undefined,
      {
        timeout: 5_000,
      },
    );
    await page.fill('#presence input', 'tenant:globex');
    await page.click('#presence button');
    await page.locator('tr[data-present="u3"]').waitFor({ timeout: 5_000 });
    assert.match((await page.locator('tr[data-present="u3"]').textContent()) ?? '', /u3\s*globex\s*1/);
    assert.deepEqual(problems, []);
  });

  it('forgets a node that stops reporting', { timeout: 40_000 }, async () => {
    await stopNode(b);
    await eventually(async () => (await state(a)).nodes.length === 1, 30_000, 'node B gone from node A');
  });

  it("finds a user's connections on every node, ws and Socket.IO, and closes one wherever it is", async (t) => {
    const opsPrefix = `dashboard-${randomUUID()}`;
    const identify = (req: http.IncomingMessage) => ({
      userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anon',
    });
    const nodes = await Promise.all(
      [0, 1].map(async () => {
        const server = http.createServer();
        const hub = switchboard(server, { broker: redisBroker({ url: 'redis://127.0.0.1:6379', prefix: opsPrefix }) });
        hub.ws('/chat', {}, { authenticate: identify });
        hub.io(undefined, { authenticate: identify });
        hub.dashboard('/_ops', { authenticate, readonly: false });
        await hub.ready();
        const { port } = await listen(server);
        return { server, hub, base: `http://127.0.0.1:${port}`, clients: [] as WebSocket[] };
      }),
    );
    t.after(async () => {
      for (const node of nodes) {
        await node.hub.close({ timeoutMs: 100 });
        await closeServer(node.server);
      }
    });
    const [c, d] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const onC = await open(`${c.base.replace('http', 'ws')}/chat?user=u7`);
    const onD = await connectIo(`${d.base}?user=u7`, { transports: ['websocket'], query: { user: 'u7' } });
    t.after(() => onD.close());
    const find = async (userId: string) => {
      const response = await fetch(`${c.base}/_ops/users/${encodeURIComponent(userId)}`, { headers: { cookie: COOKIE } });
      assert.equal(response.status, 200);
      return ((await response.json()) as { connections: Array<{ id: string; node: string; kind: string }> }).connections;
    };
    // Node C hears of node D from its reports; until then a lookup asks only itself.
    await eventually(async () => (await state(c)).nodes.length === 2, 12_000, 'node D known to node C');
    const found = await find('u7');
    assert.deepEqual(
      found.map(({ node, kind }) => [node, kind]),
      [
        [c.hub.realtime.link.nodeId, 'ws'],
        [d.hub.realtime.link.nodeId, 'socket.io'],
      ],
    );
    assert.deepEqual(await find('nobody'), []);
    assert.equal((await fetch(`${c.base}/_ops/users/u7`)).status, 401, 'the lookup is checked as the page is');

    const close = (connectionId: string) =>
      fetch(`${c.base}/_ops/actions`, {
        method: 'POST',
        headers: { cookie: COOKIE, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'close-connection', connectionId }),
      });
    // The Socket.IO session on the other node: ended so that its client does not reconnect by itself.
    const ioGone = new Promise<string>((resolve) => onD.once('disconnect', resolve));
    assert.equal((await close(found[1]?.id ?? '')).status, 200);
    assert.equal(await ioGone, 'io server disconnect');
    assert.equal(onC.readyState, WebSocket.OPEN, "the user's other connection stays");
    const wsGone = closed(onC);
    assert.equal((await close(found[0]?.id ?? '')).status, 200);
    assert.equal((await wsGone).code, DISCONNECTED_CLOSE_CODE);
    assert.equal((await close(found[0]?.id ?? '')).status, 404, 'a connection of this node that is gone');
    await eventually(async () => (await find('u7')).length === 0, 5_000, 'both gone from the lookup');
  });

  it('acts only when not read-only, and logs who asked', async () => {
    const readonlyRefusal = await fetch(`${a.base}/_ops/actions`, {
      method: 'POST',
      headers: { cookie: COOKIE, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'disconnect-user', userId: 'u1' }),
    });
    assert.equal(readonlyRefusal.status, 403);

    const logged: unknown[] = [];
    const server = http.createServer();
    const hub = switchboard(server, {
      logger: { debug() {}, info: (fields) => logged.push(fields), warn() {}, error() {} },
    });
    hub.ws('/chat', {}, { authenticate: () => ({ userId: 'u9' }) });
    hub.dashboard('/_ops', { authenticate, readonly: false });
    const { port } = await listen(server);
    const url = `http://127.0.0.1:${port}`;
    try {
      const user = await open(`${url.replace('http', 'ws')}/chat`);
      const closing = closed(user);
      const response = await fetch(`${url}/_ops/actions`, {
        method: 'POST',
        headers: { cookie: COOKIE, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'disconnect-user', userId: 'u9' }),
      });
      assert.equal(response.status, 200);
      assert.equal((await closing).code, DISCONNECTED_CLOSE_CODE);
      assert.deepEqual(logged, [{ action: 'disconnect-user', userId: 'u9', by: { userId: 'operator' } }]);
      const bad = await fetch(`${url}/_ops/actions`, {
        method: 'POST',
        headers: { cookie: COOKIE },
        body: '{"action":"reboot"}',
      });
      assert.equal(bad.status, 400);
    } finally {
      await hub.close({ timeoutMs: 100 });
      await closeServer(server);
    }
  });
});

describe('hub.dashboard() on one node of the cluster only (an admin node)', () => {
  it('lists every node, with its connections, though only one mounts the page', async (t) => {
    const prefix = `dashboard-admin-${randomUUID()}`;
    const admin = await startNode(prefix);
    const worker = await startNode(prefix, { dashboard: false });
    t.after(() => Promise.all([stopNode(admin), stopNode(worker)]));
    worker.clients.push(await open(`${worker.base.replace('http', 'ws')}/chat?user=w1&tenant=acme`));
    const page = await fetch(`${worker.base}/_ops/state`, { headers: { cookie: COOKIE } });
    assert.equal(await page.text(), 'app', 'the worker has no page: its app answers');
    await eventually(
      async () => {
        const nodes = (await state(admin)).nodes;
        return nodes.length === 2 && nodes[1]?.stats.connections === 1 && nodes[1].activity.tenants.acme === 1;
      },
      20_000,
      "the worker, with its connection, on the admin node's dashboard",
    );
    const ids = (await state(admin)).nodes.map((node) => node.id);
    assert.deepEqual(ids, [admin.hub.realtime.link.nodeId, worker.hub.realtime.link.nodeId]);
  });
});
