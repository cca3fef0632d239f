import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'graphql-ws';
import { WebSocket } from 'ws';
import { type RunningDemo, startDemo } from '../src/demo/start.js';
import { eventually, nextMessage, open } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';

describe('the demo: every service on one port, at once', () => {
  let demo: RunningDemo;
  let http = '';
  let ws = '';
  before(async () => {
    demo = await startDemo({ port: 0, log: false });
    http = `http://127.0.0.1:${demo.port}`;
    ws = `ws://127.0.0.1:${demo.port}`;
  });
  after(() => demo.close());

  it('serves the dashboard page, its assets and the Socket.IO client from the same port', async () => {
    for (const [path, type] of <Array<[string, string]>>[
      ['/', 'text/html'],
      ['/dashboard.js', 'text/javascript'],
      ['/dashboard.css', 'text/css'],
      ['/socket.io/socket.io.js', 'application/javascript'],
    ]) {
      const response = await fetch(`${http}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(type), path);
    }
    assert.equal((await fetch(`${http}/nope`)).status, 404);
  });

  it('mounts the operations page through the public API: hub.dashboard() at /_switchboard', async () => {
    const page = await fetch(`${http}/_switchboard`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Switchboard operations/);
    const state = (await (await fetch(`${http}/_switchboard/state`)).json()) as {
      nodes: Array<{ routes: Array<{ pattern: string }> }>;
      readonly: boolean;
    };
    assert.equal(state.nodes.length, 1);
    assert.ok(state.nodes[0]?.routes.some((route) => route.pattern === '/chat'));
    assert.equal(state.readonly, false);
  });

  it('connects to every service at once and sends and receives on each', async () => {
    const who = 'user=ann&tenant=acme';
    const chat = await open(`${ws}/chat?${who}`);
    const notifications = await open(`${ws}/notifications/ws?${who}`);
    const shop = await connectIo(http, { query: { user: 'ann', tenant: 'acme' } });
    const admin = await connectIo(`${http}/admin`, { query: { user: 'ann', tenant: 'acme' }, transports: ['websocket'] });
    const seller = await connectIo(`${http}/seller`, { query: { user: 'bob', tenant: 'acme' }, transports: ['polling'] });
    const whatsapp = await connectIo(http, { path: '/whatsapp/socket.io', query: { user: 'agent', tenant: 'acme' } });
    const dashboard = await connectIo(`${http}/dashboard`, { query: { user: 'dashboard', tenant: 'operations' } });
    const graphqlMessages: unknown[] = [];
    const graphql = createClient({ url: `${ws}/graphql`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
    const graphqlReady = new Promise<void>((resolve) => graphql.on('connected', () => resolve()));
    const unsubscribe = graphql.subscribe(
      { query: 'subscription { chat { from text } }' },
      { next: (value) => graphqlMessages.push(value.data), error: () => {}, complete: () => {} },
    );
    await graphqlReady;

    assert.deepEqual(JSON.parse(await nextMessage(chat)).event, 'welcome');
    assert.deepEqual(JSON.parse(await nextMessage(notifications)), { event: 'hello', data: { userId: 'ann', tenantId: 'acme' } });
    assert.deepEqual(await nextEvent(shop, 'welcome'), { namespace: '/', user: 'ann', tenant: 'acme' });
    assert.deepEqual(await nextEvent(admin, 'welcome'), { namespace: '/admin', user: 'ann', tenant: 'acme' });
    assert.deepEqual(await nextEvent(seller, 'welcome'), { namespace: '/seller', user: 'bob', tenant: 'acme' });
    assert.deepEqual(await nextEvent(whatsapp, 'welcome'), { tenant: 'acme' });

    // Chat: the ws room and the GraphQL subscription both hear it.
    await eventually(() => demo.hub.routes().find((route) => route.pattern === '/graphql')?.connections === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    chat.send('hello everyone');
    assert.deepEqual(JSON.parse(await nextMessage(chat)).data.text, 'hello everyone');
    await eventually(() => graphqlMessages.length === 1, 5_000, 'the GraphQL chat subscription');
    assert.deepEqual(graphqlMessages[0], { chat: { from: 'ann', text: 'hello everyone' } });

    // A notification to a user: all her ws connections (chat and notifications) and every Socket.IO namespace she is in.
    const reached = await dashboard.emitWithAck('notify', { userId: 'ann', text: 'order shipped' });
    assert.deepEqual(reached, { ws: 2 });
    assert.equal(JSON.parse(await nextMessage(notifications)).data.text, 'order shipped');
    assert.equal(JSON.parse(await nextMessage(chat)).event, 'notification');
    assert.equal(((await nextEvent(shop, 'notification')) as { text: string }).text, 'order shipped');
    assert.equal(((await nextEvent(admin, 'notification')) as { text: string }).text, 'order shipped');
    // To the tenant: bob, in /seller, too.
    await dashboard.emitWithAck('notify', { tenantId: 'acme', text: 'maintenance at noon' });
    assert.equal(((await nextEvent(seller, 'notification')) as { text: string }).text, 'maintenance at noon');

    // The bridge: the simulated provider's message arrives through the upstream ws client.
    dashboard.emit('whatsapp', { tenantId: 'acme', text: 'is my order on its way?' });
    const inbound = (await nextEvent(whatsapp, 'inbound')) as { tenantId: string; text: string };
    assert.deepEqual([inbound.tenantId, inbound.text], ['acme', 'is my order on its way?']);

    // The dashboard sees it all.
    const state = (await (await fetch(`${http}/api/state`)).json()) as {
      routes: Array<{ pattern: string; connections: number; owner?: string }>;
      namespaces: Array<{ server: string; name: string; sockets: number }>;
      tenants: Record<string, number>;
      doctor: { findings: unknown[] };
    };
    const live = Object.fromEntries(state.routes.map((route) => [route.pattern, route.connections]));
    assert.equal(live['/chat'], 1);
    assert.equal(live['/notifications/ws'], 1);
    assert.equal(live['/graphql'], 1);
    assert.equal(live['/whatsapp/socket.io/*'], 1);
    assert.equal(live['/socket.io/*'], 4, 'three storefront sessions and the dashboard');
    assert.ok(
      state.routes.every((route) => route.owner?.includes('demo')),
      'every route has its owner',
    );
    const sockets = Object.fromEntries(state.namespaces.map((nsp) => [`${nsp.server} ${nsp.name}`, nsp.sockets]));
    assert.deepEqual(sockets, { '/socket.io /': 1, '/socket.io /admin': 1, '/socket.io /seller': 1, '/whatsapp/socket.io /': 1 });
    // chat, notifications, three storefront sessions and the bridge (the GraphQL socket has no identity)
    assert.deepEqual(state.tenants, { acme: 6, operations: 1 });
    assert.deepEqual(state.doctor.findings, []);
    // Who is online, per service and tenant, from hub.presence (read again with each state).
    type Online = { services: Array<{ service: string; users: string[] }>; tenants: Array<{ tenant: string; users: string[] }> };
    const online = async () => ((await (await fetch(`${http}/api/state`)).json()) as { online: Online }).online;
    await eventually(async () => (await online()).tenants.some((t) => t.tenant === 'acme' && t.users.length === 3));
    const seen = await online();
    assert.deepEqual(seen.tenants.find((t) => t.tenant === 'acme')?.users, ['agent', 'ann', 'bob']);
    const services = Object.fromEntries(seen.services.map(({ service, users }) => [service, users]));
    assert.deepEqual(services['/chat'], ['ann']);
    assert.deepEqual(services['/socket.io /seller'], ['bob']);
    assert.deepEqual(services['/whatsapp/socket.io /'], ['agent']);

    unsubscribe();
    await graphql.dispose();
    for (const socket of [shop, admin, seller, whatsapp, dashboard]) socket.close();
    chat.close();
    notifications.close();
  });

  it('answers a refused user with 401 on ws and a connect_error on Socket.IO', async () => {
    const { attempt } = await import('./helpers.js');
    assert.equal((await attempt(`${ws}/chat?user=blocked`)).status, 401);
    await assert.rejects(connectIo(http, { query: { user: 'blocked' }, transports: ['websocket'] }));
  });
});
