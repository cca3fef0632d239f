import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launch, pageHandler } from './fixtures/client/browser.js';
import { startServer, type TestServer } from './fixtures/client/servers.js';
import { eventually } from './helpers.js';

describe('switchboard/client in headless Chromium', () => {
  let browser: Browser;
  let srv: TestServer;
  let base: string;
  const errors: string[] = [];

  before(async () => {
    srv = await startServer(0, await pageHandler());
    base = `http://127.0.0.1:${srv.port}`;
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  async function open(context: BrowserContext, query: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base}/?${query}`);
    return page;
  }
  const push = (payload: string) => {
    for (const ws of srv.sockets) ws.send(payload);
  };
  const accepted = () => srv.hub.stats().accepted;
  const isOpen = (page: Page) =>
    page.waitForFunction(() => document.body.dataset.status === 'open', undefined, { timeout: 10_000 });

  it('several components of a StrictMode page share one connection, across unmounts', async () => {
    const context = await browser.newContext();
    const before = accepted();
    const page = await open(context, 'mode=components');
    await page.locator('#state[data-status="open"]').waitFor();
    assert.equal(srv.connections(), 1);
    push(JSON.stringify({ event: 'note', data: 'hello' }));
    for (const id of [0, 1, 2, 3]) await page.locator(`[data-component="${id}"]`, { hasText: 'hello' }).waitFor();
    await page.evaluate(() => (window as unknown as { sendFromPage(text: string): void }).sendFromPage('from the page'));
    await eventually(() => srv.received.includes('from the page'));
    assert.equal(accepted() - before, 1, 'StrictMode mounted every effect twice, one socket was opened');

    for (let cycle = 0; cycle < 2; cycle++) {
      await page.evaluate(() => (window as unknown as { toggle(): void }).toggle());
      await eventually(() => srv.connections() === 0, 5_000, 'the socket to close when the components unmount');
      await page.evaluate(() => (window as unknown as { toggle(): void }).toggle());
      await page.locator('#state[data-status="open"]').waitFor();
      assert.equal(srv.connections(), 1);
    }
    assert.equal(accepted() - before, 3, 'one socket per mount');
    await context.close();
    await eventually(() => srv.connections() === 0);
    assert.deepEqual(errors, []);
  });

  for (const via of ['shared-worker', 'broadcast-channel'] as const) {
    it(`two tabs share one connection through ${via === 'shared-worker' ? 'a SharedWorker' : 'an elected tab and a BroadcastChannel'}, and the second keeps it when the first closes`, async () => {
      const context = await browser.newContext();
      const before = accepted();
      const first = await open(context, `mode=tabs&via=${via}`);
      await isOpen(first);
      const second = await open(context, `mode=tabs&via=${via}`);
      await isOpen(second);
      for (const page of [first, second])
        assert.equal(await page.evaluate(() => (window as unknown as { via: string }).via), via);
      assert.equal(srv.connections(), 1, 'one connection for both tabs');
      assert.equal(accepted() - before, 1);

      push(`to both ${via}`);
      for (const page of [first, second]) {
        await page.waitForFunction(
          (text) => (window as unknown as { messages: string[] }).messages.includes(text),
          `to both ${via}`,
        );
      }
      await second.evaluate(
        (text) => (window as unknown as { send(text: string): void }).send(text),
        `from the second tab ${via}`,
      );
      await eventually(() => srv.received.includes(`from the second tab ${via}`), 5_000, 'the second tab’s send');

      await first.close();
      await isOpen(second);
      await eventually(() => srv.connections() === 1, 5_000, 'one connection after the first tab closed');
      push(`after failover ${via}`);
      await second.waitForFunction(
        (text) => (window as unknown as { messages: string[] }).messages.includes(text),
        `after failover ${via}`,
      );
      await second.evaluate(
        (text) => (window as unknown as { send(text: string): void }).send(text),
        `sent after failover ${via}`,
      );
      await eventually(() => srv.received.includes(`sent after failover ${via}`), 5_000, 'a send after failover');
      // The worker holds the socket whatever tab closes; an elected tab hands over to the next one, which opens its own.
      assert.equal(accepted() - before, via === 'shared-worker' ? 1 : 2);
      assert.equal(srv.connections(), 1);

      await context.close();
      await eventually(() => srv.connections() === 0, 5_000, 'no connection once every tab is gone');
      assert.deepEqual(errors, []);
    });
  }

  it('falls back to an elected tab when the SharedWorker script does not load', async () => {
    const context = await browser.newContext();
    const before = accepted();
    const first = await open(context, 'mode=tabs&worker=/not-served.js');
    const second = await open(context, 'mode=tabs&worker=/not-served.js');
    await Promise.all([isOpen(first), isOpen(second)]);
    for (const page of [first, second]) {
      await page.waitForFunction(() => (window as unknown as { via: string }).via === 'broadcast-channel');
    }
    push('after the fallback');
    for (const page of [first, second]) {
      await page.waitForFunction(() => (window as unknown as { messages: string[] }).messages.includes('after the fallback'));
    }
    assert.equal(srv.connections(), 1);
    assert.equal(accepted() - before, 1);
    await context.close();
    await eventually(() => srv.connections() === 0);
  });

  it('falls back to an elected tab when the SharedWorker loads but never answers', async () => {
    const context = await browser.newContext();
    const page = await open(context, 'mode=tabs&worker=/silent-worker.js');
    await page.waitForFunction(() => (window as unknown as { via: string }).via === 'broadcast-channel', undefined, {
      timeout: 10_000,
    });
    await isOpen(page);
    push('after the silence');
    await page.waitForFunction(() => (window as unknown as { messages: string[] }).messages.includes('after the silence'));
    await context.close();
    await eventually(() => srv.connections() === 0);
  });
});
