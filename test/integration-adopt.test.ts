import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAlive, checkChat, checkHubNotFound, checkSocketIO, type RunningExample, startExample } from './example-helpers.js';
import { nextMessage, open } from './helpers.js';

/** Vite's HMR socket, opened as its client does from the page (the token is in the client). */
async function checkViteHmr(app: RunningExample): Promise<void> {
  const client = await (await fetch(`${app.http}/@vite/client`)).text();
  const token = /const wsToken = "([^"]+)"/.exec(client)?.[1];
  assert.ok(token, 'the HMR token is in the client');
  const hmr = await open(`${app.ws}/?token=${token}`, { protocols: 'vite-hmr', headers: { Origin: app.http } });
  assert.deepEqual(JSON.parse(await nextMessage(hmr)), { type: 'connected' });
  await checkAlive(hmr);
  hmr.close();
}

/** Every service of the example, with the unknown path's 404 (which waits out the handshake timeout) checked meanwhile. */
async function checkEveryService(app: RunningExample): Promise<void> {
  const notFound = checkHubNotFound(`${app.ws}/no/such/socket`);
  const page = await (await fetch(`${app.http}/`)).text();
  assert.match(page, /<h1>Vite and Switchboard on one port<\/h1>/);
  await checkViteHmr(app);
  await checkChat(`${app.ws}/chat`);
  await checkSocketIO(app.http, 'websocket');
  await checkSocketIO(app.http, 'polling');
  await notFound;
}

describe("examples/adopt: Vite's dev server listener adopted beside ws and Socket.IO on one port", () => {
  it('adopts the listener with hub.adopt(): HMR, every app service, and the hub 404', { timeout: 60_000 }, async (t) => {
    const app = await startExample('adopt');
    t.after(app.stop);
    await checkEveryService(app);
  });

  it('adopts the listener under the guard just the same', { timeout: 60_000 }, async (t) => {
    const app = await startExample('adopt', { nodeArgs: ['--import', 'switchboard/register'] });
    t.after(app.stop);
    await checkEveryService(app);
  });
});
