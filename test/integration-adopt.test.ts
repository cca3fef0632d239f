import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createServer as createViteServer } from 'vite';
import type { UpgradeListener } from '../src/hub/index.js';
import { switchboard } from '../src/index.js';
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

/** Every service of the example, with the unknown path's 404 checked meanwhile. */
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

describe("Vite's dev server listener adopted: a socket it does not serve is answered at once", () => {
  it("answers 404 for a path or protocol that is not Vite's before a long handshake timeout", { timeout: 30_000 }, async (t) => {
    let hub: ReturnType<typeof switchboard> | undefined;
    const vite = await createViteServer({
      root: fileURLToPath(new URL('../examples/vite', import.meta.url)),
      configFile: false,
      cacheDir: fileURLToPath(new URL('../node_modules/.cache/switchboard-examples/adopt-test', import.meta.url)),
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 0 },
      plugins: [
        {
          name: 'adopt',
          configureServer({ httpServer }) {
            const server = httpServer as Server;
            // Twice the test's own timeout: a 404 that waited for it would fail the test first.
            hub = switchboard(server, { handshakeTimeoutMs: 60_000 });
            for (const listener of server.listeners('upgrade')) hub.adopt(listener as UpgradeListener);
          },
        },
      ],
    });
    await vite.listen();
    t.after(() => vite.close());
    assert.equal(hub?.adoptedListeners().length, 1, "Vite's listener is adopted");
    const app = `ws://127.0.0.1:${((vite.httpServer as Server).address() as AddressInfo).port}`;

    await checkHubNotFound(`${app}/no/such/socket`, { protocols: 'vite-hmr' });
    await checkHubNotFound(`${app}/`);
    // Vite's own socket is still Vite's: its ping is accepted, then closed.
    const ping = await open(`${app}/`, { protocols: 'vite-ping' });
    ping.close();
  });
});
