import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RunningDemo, startDemo } from '../src/demo/start.js';
import { launchChromium } from './browser/chromium.js';

const ARTIFACTS = new URL('../test-artifacts/', import.meta.url);

describe('the dashboard in headless Chromium', () => {
  let demo: RunningDemo;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    demo = await startDemo({ port: 0, log: false });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${demo.port}/`);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  /** Waits until the dashboard shows `count` live connections on `pattern` (it pushes state twice a second). */
  const waitForCount = (pattern: string, count: number) =>
    page.waitForFunction(
      ([selector, expected]) => document.querySelector(selector as string)?.textContent === expected,
      [`[data-connections="${pattern}"]`, String(count)],
      { timeout: 5_000 },
    );
  const arrivals = (service: string) => page.locator(`#arrivals li[data-service="${service}"]`);

  it('goes live over its own namespace and lists every route with its owner', async () => {
    await page.locator('#live-text', { hasText: 'live' }).waitFor();
    for (const pattern of ['/chat', '/notifications/ws', '/socket.io/*', '/whatsapp/socket.io/*', '/graphql']) {
      await page.locator(`tr[data-pattern="${pattern}"]`).waitFor();
    }
    assert.match((await page.locator('tr[data-pattern="/chat"] .owner').textContent()) ?? '', /demo\/services\/chat\.ts:\d+/);
    assert.match((await page.locator('#doctor-verdict').textContent()) ?? '', /No conflicts/);
  });

  it('connects a test client to every service from the browser and the counts follow', async () => {
    await page.click('[data-action="connect-all"]');
    for (const service of ['chat', 'notifications', 'shop', 'admin', 'seller', 'whatsapp', 'graphql']) {
      await page.locator(`[data-status="${service}"][data-state="open"]`).waitFor({ timeout: 10_000 });
    }
    for (const pattern of ['/chat', '/notifications/ws', '/graphql', '/whatsapp/socket.io/*']) await waitForCount(pattern, 1);
    await waitForCount('/socket.io/*', 4);
    await page.locator('#tenants [data-tenant="acme"]').waitFor();
    await page.locator('#online [data-online="service /chat"]').waitFor();
    await page.locator('#online [data-online="tenant acme"]').waitFor();
  });

  it('sends a chat message that arrives in the chat and in the GraphQL subscription', async () => {
    await page.fill('#chat-text', 'hello from Chromium');
    await page.click('[data-action="send-chat"]');
    await arrivals('chat').filter({ hasText: 'hello from Chromium' }).waitFor();
    await arrivals('graphql').filter({ hasText: 'hello from Chromium' }).waitFor();
  });

  it('publishes a notification that reaches every ws connection and every Socket.IO namespace of the user', async () => {
    await page.fill('#notify-text', 'your order has shipped');
    await page.click('[data-action="notify"]');
    for (const service of ['notifications', 'chat', 'shop', 'admin', 'seller']) {
      await arrivals(service).filter({ hasText: 'your order has shipped' }).waitFor();
    }
    assert.match((await page.locator('#notify-result').textContent()) ?? '', /2 ws connection/);
  });

  it('relays a simulated WhatsApp message through the bridge to the tenant', async () => {
    await page.click('[data-action="whatsapp"]');
    await arrivals('whatsapp').filter({ hasText: 'Hello from a customer on WhatsApp' }).waitFor();
  });

  it('shows the counts drop when clients close, and keeps a screenshot', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('dashboard.png', ARTIFACTS).pathname, fullPage: true });
    await page.click('[data-action="toggle-chat"]');
    await page.locator('[data-status="chat"][data-state="closed"]').waitFor();
    await waitForCount('/chat', 0);
    assert.deepEqual(pageErrors, []);
  });
});
