import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAlive, checkChat, checkHubNotFound, checkSocketIO, startExample } from './example-helpers.js';
import { attempt, closed, nextMessage, open } from './helpers.js';

describe('examples/vite: Vite in middleware mode, its HMR socket beside ws and Socket.IO on one port', () => {
  it('serves the page, the HMR and ping sockets, every app service, and the hub 404', { timeout: 60_000 }, async (t) => {
    const app = await startExample('vite');
    t.after(app.stop);

    const page = await (await fetch(`${app.http}/`)).text();
    assert.match(page, /<h1>Vite and Switchboard on one port<\/h1>/);
    assert.match(page, /<script type="module" src="\/@vite\/client"><\/script>/, 'Vite injected its HMR client');

    // The HMR socket as Vite's client opens it from the page: its base path, its sub-protocol, the
    // page's origin and the token Vite put in the client.
    const client = await (await fetch(`${app.http}/@vite/client`)).text();
    const token = /const wsToken = "([^"]+)"/.exec(client)?.[1];
    assert.ok(token, 'the HMR token is in the client');
    const hmr = await open(`${app.ws}/?token=${token}`, { protocols: 'vite-hmr', headers: { Origin: app.http } });
    assert.equal(hmr.protocol, 'vite-hmr');
    assert.deepEqual(JSON.parse(await nextMessage(hmr)), { type: 'connected' });
    await checkAlive(hmr);
    // Vite still checks its own handshakes: a page that does not know the token is refused by Vite.
    const forged = await attempt(`${app.ws}/?token=forged`, {
      protocols: 'vite-hmr',
      headers: { Origin: 'http://evil.example' },
    });
    assert.equal(forged.status, 400);
    // The ping Vite's client sends to learn that a restarted server is back: accepted, then closed.
    const ping = await open(`${app.ws}/`, { protocols: 'vite-ping' });
    assert.equal((await closed(ping)).code, 1000);
    hmr.close();

    await checkChat(`${app.ws}/chat`);
    await checkSocketIO(app.http, 'websocket');
    await checkSocketIO(app.http, 'polling');
    // Vite's path without Vite's sub-protocol is not Vite's, nor is any other.
    await checkHubNotFound(`${app.ws}/`);
    await checkHubNotFound(`${app.ws}/no/such/socket`, { protocols: 'vite-hmr' });
  });
});
