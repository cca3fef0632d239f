import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkChat, checkHubNotFound, checkSocketIO, startExample } from './example-helpers.js';
import { attempt, nextMessage, open } from './helpers.js';

describe('examples/fastify: Fastify, @fastify/websocket, ws and Socket.IO on one port', () => {
  it('serves every service on the one port and answers an unknown path with the hub 404', { timeout: 30_000 }, async (t) => {
    const app = await startExample('fastify');
    t.after(app.stop);

    const hello = await fetch(`${app.http}/api/hello`);
    assert.deepEqual(await hello.json(), { hello: 'from fastify' });

    // A @fastify/websocket route, reached through Fastify's own routing.
    const live = await open(`${app.ws}/live/echo`);
    assert.equal(await nextMessage(live), 'welcome to /live/echo');
    live.send('tick');
    assert.equal(await nextMessage(live), 'fastify echo: tick');
    live.close();
    // Under its prefix, a path Fastify has no route for gets Fastify's own 404.
    const unknownLive = await attempt(`${app.ws}/live/nothing-here`);
    assert.equal(unknownLive.status, 404);
    assert.match(unknownLive.body, /Route GET:\/live\/nothing-here not found/);

    await checkChat(`${app.ws}/chat`);
    await checkSocketIO(app.http, 'websocket');
    await checkSocketIO(app.http, 'polling');
    await checkHubNotFound(`${app.ws}/no/such/socket`);
  });
});
