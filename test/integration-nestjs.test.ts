import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHubNotFound, graphQLResults, startExample } from './example-helpers.js';
import { nextMessage, open } from './helpers.js';
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
