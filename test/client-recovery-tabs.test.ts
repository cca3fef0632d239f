import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser/chromium.js';
import { type Heard, hello, msg, pos, send, wireServer } from './client-helpers.js';
import { eventually } from './helpers.js';

/** The page of the cross-tab test: the client, with what it hears kept on `window` for the test to read. */
const PAGE_SCRIPT = `
import { connect } from './src/client/index.ts';
const page = window;
page.heard = [];
page.gaps = [];
page.answers = [];
page.start = (url, via) => {
  const conn = connect(url, { shareAcrossTabs: { via, workerUrl: '/shared-worker.js' }, reconnect: { baseDelayMs: 5, maxDelayMs: 20 } });
  page.conn = conn;
  conn.subscribe((data, message) => page.heard.push({ data: String(data), message: message ?? null }));
  conn.onGap((gap) => page.gaps.push(gap));
  conn.onStateChange((state) => { document.body.dataset.status = state.status; });
  document.body.dataset.status = conn.state.status;
};
page.ask = (event, data) =>
  page.conn.request(event, data).then((value) => page.answers.push({ value }), (error) => page.answers.push({ code: error.code }));
`;

async function bundle(options: Parameters<typeof build>[0]): Promise<string> {
  const result = await build({ bundle: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent', ...options });
  return result.outputFiles?.[0]?.text ?? '';
}

async function pages(): Promise<http.RequestListener> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const [script, worker] = await Promise.all([
    bundle({ stdin: { contents: PAGE_SCRIPT, resolveDir: root, loader: 'ts' } }),
    bundle({ entryPoints: [fileURLToPath(new URL('../src/client/shared-worker.ts', import.meta.url))] }),
  ]);
  const files: Record<string, [string, string]> = {
    '/': ['text/html', '<!doctype html><html><body><script type="module" src="/page.js"></script></body></html>'],
    '/page.js': ['text/javascript', script],
    '/shared-worker.js': ['text/javascript', worker],
  };
  return (req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!file) res.writeHead(404).end();
    else res.writeHead(200, { 'Content-Type': file[0], 'Cache-Control': 'no-store' }).end(file[1]);
  };
}

describe('switchboard/client recovery across tabs, in headless Chromium', () => {
  let browser: Browser;
  let handler: http.RequestListener;
  before(async () => {
    [browser, handler] = await Promise.all([launchChromium(), pages()]);
  });
  after(async () => {
    await browser?.close();
  });

  for (const via of ['shared-worker', 'broadcast-channel'] as const) {
    it(`relays room positions, gaps and requests to every tab, and resumes after a drop (${via})`, async (t) => {
      // Room `r` as a server with history would keep it; `three` is published while the client is away.
      const log: string[] = [];
      let answering = true;
      const srv = await wireServer((conn, index) => {
        hello(conn.ws);
        if (index > 0 && !log.includes('three')) log.push('three');
        const from = conn.resume?.r?.[0] ?? log.length;
        for (let offset = from + 1; offset <= log.length; offset++) msg(conn.ws, 'r', offset, log[offset - 1]);
        pos(conn.ws, 'r', log.length);
        conn.ws.on('message', (raw) => {
          const frame = JSON.parse(String(raw)) as { id: string; event: string; data: unknown };
          if (answering || index > 0) send(conn.ws, { sb: 'res', id: frame.id, data: `${frame.event}:${String(frame.data)}` });
        });
      }, handler);
      t.after(srv.stop);
      const base = srv.url.replace('ws:', 'http:');
      const context = await browser.newContext();
      t.after(() => context.close());
      const tab = async (): Promise<Page> => {
        const page = await context.newPage();
        await page.goto(`${base}/`);
        await page.waitForFunction(() => typeof (window as unknown as { start?: unknown }).start === 'function');
        await page.evaluate(
          ([url, mode]) => (window as unknown as { start(u: string, v: string): void }).start(url!, mode!),
          [`${srv.url}/live`, via],
        );
        await page.waitForFunction(() => document.body.dataset.status === 'open', undefined, { timeout: 10_000 });
        return page;
      };
      const read = <T>(page: Page, name: string) => page.evaluate((key) => (window as unknown as Record<string, T>)[key]!, name);
      const publish = (data: string) => {
        log.push(data);
        for (const conn of srv.seen) if (conn.ws.readyState === 1) msg(conn.ws, 'r', log.length, data);
      };

      const first = await tab();
      const second = await tab();
      assert.equal(srv.seen.length, 1, 'one socket for both tabs');
      publish('one');
      send(srv.seen[0]!.ws, { sb: 'gap', room: 'g', reason: 'expired' });
      for (const page of [first, second]) {
        await page.waitForFunction(() => (window as unknown as { gaps: unknown[] }).gaps.length === 1);
        assert.deepEqual(await read(page, 'heard'), [{ data: 'one', message: { room: 'r', offset: 1, epoch: 'e1' } }]);
        assert.deepEqual(await read(page, 'gaps'), [{ room: 'g', reason: 'expired' }]);
      }

      await second.evaluate(() => {
        // Not awaited in the page: evaluate would wait for the answer.
        void (window as unknown as { ask(e: string, d: unknown): Promise<void> }).ask('echo', 1);
      });
      await second.waitForFunction(() => (window as unknown as { answers: unknown[] }).answers.length === 1);
      assert.deepEqual(await read(second, 'answers'), [{ value: 'echo:1' }]);

      answering = false;
      await second.evaluate(() => {
        // Not awaited in the page: evaluate would wait for the answer.
        void (window as unknown as { ask(e: string, d: unknown): Promise<void> }).ask('later', 2);
      });
      await eventually(() => srv.seen[0]!.received.length === 2, 5_000, 'the unanswered request on the wire');
      publish('two');
      await second.waitForFunction(() => (window as unknown as { heard: unknown[] }).heard.length === 2);
      // The worker outlives tabs, so its socket is dropped by the server; an elected tab hands over by closing.
      if (via === 'shared-worker') srv.seen[0]!.ws.terminate();
      else await first.close();

      await second.waitForFunction(() => (window as unknown as { answers: unknown[] }).answers.length === 2, undefined, {
        timeout: 10_000,
      });
      assert.deepEqual((await read<unknown[]>(second, 'answers'))[1], { value: 'later:2' });
      assert.equal(srv.seen.length, 2);
      assert.deepEqual(srv.seen[1]!.resume, { r: [2, 'e1'] }, 'resumed from the last message the tabs got');
      assert.equal(srv.seen[1]!.received[0]!.id, srv.seen[0]!.received[1]!.id, 'the request resent with its id');
      await second.waitForFunction(() => (window as unknown as { heard: unknown[] }).heard.length === 3);
      assert.deepEqual((await read<Heard[]>(second, 'heard')).slice(1), [
        { data: 'two', message: { room: 'r', offset: 2, epoch: 'e1' } },
        { data: 'three', message: { room: 'r', offset: 3, epoch: 'e1' } },
      ]);
      assert.deepEqual(await read(second, 'gaps'), [{ room: 'g', reason: 'expired' }], 'no gap: the replay covered it');
    });
  }
});
