import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAlive, checkChat, checkHubNotFound, checkSocketIO, startExample } from './example-helpers.js';
import { delay, nextMessage, open } from './helpers.js';

// One Next.js start in dev mode for the whole file: compiling is the slow part.
describe('examples/nextjs: a Next.js custom server in dev mode beside ws and Socket.IO on one port', () => {
  it('serves the page, the hot-reload socket, every app service, and the hub 404', { timeout: 240_000 }, async (t) => {
    // Longer than the test may run: a 404 that waited for the handshake timeout would fail it first.
    const app = await startExample('nextjs', { env: { HANDSHAKE_TIMEOUT_MS: '600000' } });
    t.after(app.stop);

    // The first request compiles the page and is when Next.js adds its 'upgrade' listener.
    const page = await fetch(`${app.http}/`, { signal: AbortSignal.timeout(180_000) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Next\.js and Switchboard on one port/);

    // The hot-reload socket, as the page's client opens it (Next.js 16: /_next/hmr; before: /_next/webpack-hmr).
    const hmr = await open(`${app.ws}/_next/hmr?id=integration-test`);
    const messages: { type?: string }[] = [];
    while (!messages.some((message) => message.type === 'turbopack-connected')) {
      messages.push(JSON.parse(await nextMessage(hmr, 30_000)));
    }
    await checkAlive(hmr);
    hmr.close();

    // /chat is a page of the app and the path of its ws service. Next.js ends every upgrade on a
    // page's path that reaches its listener, a little after the hub's ws service accepted it; so the
    // socket must still talk once Next.js would have had time to end it.
    await checkChat(`${app.ws}/chat`);
    const chat = await open(`${app.ws}/chat`);
    assert.equal(await nextMessage(chat), 'welcome to /chat');
    await delay(500);
    chat.send('still there?');
    assert.equal(await nextMessage(chat), 'echo: still there?');
    chat.close();
    await checkSocketIO(app.http, 'websocket');
    await checkSocketIO(app.http, 'polling');
    // A page's path is not a socket's: the hub answers, and Next.js never ends a socket it does not own.
    await checkHubNotFound(`${app.ws}/`);
    await checkHubNotFound(`${app.ws}/no/such/socket`);
    // Next.js's listener is offered this one (the stand-in's route) and leaves it alone once its router
    // found nothing: the hub's 404 follows then, not after the handshake timeout.
    await checkHubNotFound(`${app.ws}/_next/no/such/socket`);
  });
});
