import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { delay, eventually, startApp } from './helpers.js';

// Acknowledged requests when the node running the handler dies or stops inside it: real hub
// processes (fixtures/cluster/request-node.ts) on the real Redis, a raw ws client speaking the
// wire format, each test under its own key prefix.

const REDIS = 'redis://127.0.0.1:6379';
const NODE = fileURLToPath(new URL('./fixtures/cluster/request-node.ts', import.meta.url));

type Runs = { starts: { node: string; duplicateRisk: boolean }[]; done: string[]; aborted: string[] };

const nodes: { stop: () => Promise<void> }[] = [];
after(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
});

async function startNode(name: string, prefix: string) {
  const app = await startApp(NODE, { nodeArgs: ['--import', 'tsx'], env: { REDIS_URL: REDIS, PREFIX: prefix, NODE_NAME: name } });
  nodes.push(app);
  assert.ok(app.port, app.output());
  const base = `http://127.0.0.1:${app.port}`;
  return {
    ...app,
    url: `ws://127.0.0.1:${app.port}/req`,
    async do<T>(action: string, params: Record<string, string> = {}): Promise<T> {
      return (await (await fetch(`${base}/?${new URLSearchParams({ action, ...params })}`)).json()) as T;
    },
  };
}

/** Two nodes of one cluster, A and B, under a fresh prefix. */
async function cluster() {
  const prefix = `sb-test-${Math.random().toString(36).slice(2)}`;
  return Promise.all([startNode('A', prefix), startNode('B', prefix)]);
}

/** A raw client of the recovering route: the `res` frames it was sent, in order. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const answers: Record<string, unknown>[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    if (frame.sb === 'res') answers.push(frame);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    answers,
    request: (id: string, data: unknown = {}) => ws.send(JSON.stringify({ sb: 'req', id, event: 'pay', data })),
  };
}

describe('acknowledged requests when a node dies or stops inside the handler', () => {
  it('A killed inside the handler: the request resent to B is run there and answered, completed once', {
    timeout: 60_000,
  }, async () => {
    const [a, b] = await cluster();
    const first = await client(a.url);
    first.request('pay-1');
    await eventually(async () => (await b.do<Runs>('runs')).starts.length === 1, 5_000, 'the run on A to start');
    await delay(500);
    await a.stop(); // SIGKILL: no settle, no goodbye
    const second = await client(b.url);
    second.request('pay-1');
    // A's claim holds until its lease runs out; then B takes it over and runs the handler itself.
    await eventually(() => second.answers.length > 0, 20_000, "B's answer");
    assert.deepEqual(second.answers[0], { sb: 'res', id: 'pay-1', data: { paid: true, by: 'B' } });
    const runs = await b.do<Runs>('runs');
    assert.deepEqual(runs.starts, [
      { node: 'A', duplicateRisk: false },
      { node: 'B', duplicateRisk: true },
    ]);
    assert.deepEqual(runs.done, ['B'], 'the handler completed once, on B');
    assert.deepEqual(await b.do('metrics'), ['switchboard_request_runs_total{result="takeover"} 1']);
    // Sent again once more: answered from the record, not run a third time.
    second.request('pay-1');
    await eventually(() => second.answers.length === 2);
    assert.deepEqual(second.answers[1], second.answers[0]);
    assert.equal((await b.do<Runs>('runs')).starts.length, 2);
    second.ws.close();
  });

  it('a handler that outlives the lease on a live node keeps its claim: B waits for its answer', {
    timeout: 60_000,
  }, async () => {
    const [a, b] = await cluster();
    const first = await client(a.url);
    // Longer than the claim's lease (10 s): only its renewals keep B from running it again.
    first.request('pay-2', { ms: 12_000 });
    await eventually(async () => (await b.do<Runs>('runs')).starts.length === 1, 5_000, 'the run on A to start');
    first.ws.terminate();
    const second = await client(b.url);
    second.request('pay-2', { ms: 12_000 });
    await eventually(() => second.answers.length > 0, 25_000, "A's answer on B");
    assert.deepEqual(second.answers[0], { sb: 'res', id: 'pay-2', data: { paid: true, by: 'A' } });
    const runs = await b.do<Runs>('runs');
    assert.deepEqual(runs.starts, [{ node: 'A', duplicateRisk: false }], 'the handler ran once, on A');
    assert.deepEqual(runs.done, ['A']);
    assert.deepEqual(await b.do('metrics'), ['switchboard_request_runs_total{result="answered_from_record"} 1']);
    second.ws.close();
  });

  it('A stopped past its lease: B takes over; A, resumed, answers with B’s answer and records nothing', {
    timeout: 60_000,
  }, async () => {
    const [a, b] = await cluster();
    const first = await client(a.url);
    first.request('pay-3');
    await eventually(async () => (await b.do<Runs>('runs')).starts.length === 1, 5_000, 'the run on A to start');
    await delay(500);
    process.kill(a.pid, 'SIGSTOP');
    let resumed = false;
    try {
      // The client gives up on A (its socket stays open) and sends the request to B.
      const second = await client(b.url);
      second.request('pay-3');
      await eventually(() => second.answers.length > 0, 20_000, "B's answer");
      const answer = { sb: 'res', id: 'pay-3', data: { paid: true, by: 'B' } };
      assert.deepEqual(second.answers[0], answer);
      assert.deepEqual((await b.do<Runs>('runs')).starts, [
        { node: 'A', duplicateRisk: false },
        { node: 'B', duplicateRisk: true },
      ]);
      process.kill(a.pid, 'SIGCONT');
      resumed = true;
      // A's next renewal finds its claim gone: ctx.signal aborts its run, whose settle then finds
      // B's answer recorded and sends that one.
      await eventually(() => first.answers.length > 0, 10_000, "A's answer after SIGCONT");
      assert.deepEqual(first.answers[0], answer, 'the same answer on both connections');
      const runs = await a.do<Runs>('runs');
      assert.deepEqual(runs.aborted, ['A'], "A's handler saw ctx.signal aborted");
      assert.deepEqual(runs.done, ['B']);
      // The record still holds B's answer: A's late run recorded nothing over it.
      assert.deepEqual(JSON.parse(await a.do<string>('record', { id: 'pay-3' })), { data: { paid: true, by: 'B' } });
      await delay(200);
      assert.equal(first.answers.length, 1);
      assert.equal(second.answers.length, 1);
      for (const each of [first, second]) each.ws.close();
    } finally {
      if (!resumed) process.kill(a.pid, 'SIGCONT');
    }
  });
});
