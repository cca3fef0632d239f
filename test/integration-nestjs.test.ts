import 'reflect-metadata';
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { switchboard } from '../src/index.js';
import { SwitchboardAdapter } from '../src/nestjs/index.js';
import { checkHubNotFound, graphQLResults, startExample } from './example-helpers.js';
import { closeServer, listen, nextMessage, open } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';

describe('examples/nestjs: Nest gateways, Socket.IO, GraphQL and the app services through switchboard/nestjs', () => {
  it('serves every gateway and service on the one port, and the hub 404', { timeout: 60_000 }, async (t) => {
    const app = await startExample('nestjs');
    t.after(app.stop);

    assert.deepEqual(await (await fetch(`${app.http}/api/hello`)).json(), { hello: 'from nest' });

    // Two ws gateways, each on its own path, with Nest's { event, data } frames.
    const chat = await open(`${app.ws}/nest/chat`);
    assert.deepEqual(JSON.parse(await nextMessage(chat)), { event: 'welcome', data: '/nest/chat' });
    chat.send(JSON.stringify({ event: 'no-such-event', data: 1 }));
    chat.send('not json');
    chat.send(JSON.stringify({ event: 'echo', data: { text: 'hi' } }));
    assert.deepEqual(JSON.parse(await nextMessage(chat)), { event: 'echo', data: { text: 'hi' } });
    chat.close();

    const prices = await open(`${app.ws}/nest/prices`);
    prices.send(JSON.stringify({ event: 'quote', data: 'EUR' }));
    const quotes = [];
    for (let count = 0; count < 3; count++) quotes.push(JSON.parse(await nextMessage(prices)));
    assert.deepEqual(
      quotes,
      [0, 1, 2].map((tick) => ({ event: 'quote', data: { currency: 'EUR', tick } })),
    );
    prices.close();

    // Socket.IO gateways: namespaces of one server, on every transport.
    for (const transport of ['websocket', 'polling'] as const) {
      const events = await connectIo(`${app.http}/events`, { transports: [transport] });
      assert.equal(await events.timeout(5_000).emitWithAck('hello', transport), `hello ${transport}`);
      events.close();
    }
    const admin = await connectIo(`${app.http}/admin`, { transports: ['websocket'] });
    admin.emit('whoami');
    assert.equal(await nextEvent(admin, 'you-are'), `/admin ${admin.id}`);
    admin.close();

    // The app's own services on the same hub.
    assert.deepEqual(await graphQLResults(`${app.ws}/graphql`, '{ hello }'), [
      { data: { hello: 'hello from graphql-ws in nest' } },
    ]);
    assert.deepEqual(await graphQLResults(`${app.ws}/graphql`, 'subscription { greetings }'), [
      { data: { greetings: 'hi' } },
      { data: { greetings: 'bonjour' } },
      { data: { greetings: 'hola' } },
    ]);
    const raw = await open(`${app.ws}/raw`);
    assert.equal(await nextMessage(raw), 'welcome to /raw');
    raw.close();

    // Nest's WsAdapter destroys a socket it does not know; through the hub it gets a 404.
    await checkHubNotFound(`${app.ws}/no/such/socket`);
  });
});

describe('switchboard/nestjs: closing the app', () => {
  it('unmounts the gateways it mounted: their routes go, and their paths get the hub 404', { timeout: 30_000 }, async (t) => {
    // A hub that outlives the app (given to the adapter), so that its paths can be tried after app.close().
    const server = http.createServer();
    const hub = switchboard(server);
    hub.ws('/raw').on('connection', (ws) => ws.send('welcome to /raw'));
    // The hub's shared Socket.IO server is the app's too: the gateway's namespace goes, the server stays.
    hub
      .io()
      .of('/own')
      .on('connection', (socket) => socket.on('ping', (reply: (text: string) => void) => reply('pong')));
    const { url } = await listen(server);
    t.after(() => closeServer(server));

    class ChatGateway {
      echo(_client: unknown, data: unknown) {
        return { event: 'echo', data };
      }
    }
    decorate(ChatGateway, [WebSocketGateway({ path: '/nest/chat' })], { echo: [SubscribeMessage('echo')] });
    class LiveGateway {
      hello(_socket: unknown, name: string) {
        return `hello ${name}`;
      }
    }
    decorate(LiveGateway, [WebSocketGateway({ path: '/live/socket.io' })], { hello: [SubscribeMessage('hello')] });
    class EventsGateway {
      hello(_socket: unknown, name: string) {
        return `hello ${name}`;
      }
    }
    decorate(EventsGateway, [WebSocketGateway({ namespace: 'events' })], { hello: [SubscribeMessage('hello')] });
    class AppModule {}
    decorate(AppModule, [Module({ providers: [ChatGateway, LiveGateway, EventsGateway] })]);

    const app = await NestFactory.create(AppModule, { logger: false });
    app.useWebSocketAdapter(new SwitchboardAdapter(app, { hub }));
    await app.init();
    const patterns = () => hub.routes().map((route) => route.pattern);
    assert.deepEqual(patterns().sort(), ['/live/socket.io/*', '/nest/chat', '/raw', '/socket.io/*']);
    const chat = await open(`${url}/nest/chat`);
    chat.send(JSON.stringify({ event: 'echo', data: 'hi' }));
    assert.deepEqual(JSON.parse(await nextMessage(chat)), { event: 'echo', data: 'hi' });
    const live = await connectIo(url, { path: '/live/socket.io', transports: ['websocket'] });
    assert.equal(await live.timeout(5_000).emitWithAck('hello', 'nest'), 'hello nest');
    const events = await connectIo(`${url}/events`, { transports: ['websocket'] });
    assert.equal(await events.timeout(5_000).emitWithAck('hello', 'events'), 'hello events');

    await app.close();
    for (const client of [chat, live, events]) client.close();
    assert.deepEqual(patterns().sort(), ['/raw', '/socket.io/*'], "only the app's own services are left");
    await checkHubNotFound(`${url}/nest/chat`);
    await checkHubNotFound(`${url}/live/socket.io/?EIO=4&transport=websocket`);
    await assert.rejects(connectIo(`${url}/events`, { transports: ['websocket'] }), /Invalid namespace/);
    const raw = await open(`${url}/raw`);
    assert.equal(await nextMessage(raw), 'welcome to /raw');
    raw.close();
    const own = await connectIo(`${url}/own`, { transports: ['websocket'] });
    assert.equal(await own.timeout(5_000).emitWithAck('ping'), 'pong');
    own.close();
  });
});

/** Applies decorators as compiled TypeScript does (this file is run without decorator support). */
function decorate(
  target: Function,
  classDecorators: ClassDecorator[],
  methodDecorators: Record<string, MethodDecorator[]> = {},
): void {
  Reflect.decorate(classDecorators, target);
  for (const [method, decorators] of Object.entries(methodDecorators)) {
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method);
    Reflect.decorate(decorators, target.prototype, method, descriptor);
  }
}
