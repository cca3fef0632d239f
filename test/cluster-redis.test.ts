import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DISCONNECTED_CLOSE_CODE, REPLACED_CLOSE_CODE } from '../src/index.js';
import { CLUSTER_NODE, startClusterNode } from './cluster-node.js';
import { attempt, closed, delay, eventually, open, PrivateRedis, startApp } from './helpers.js';
import { connectIo, nextEvent } from './io-helpers.js';
import { member } from './live-routes.js';

const REDIS = 'redis://127.0.0.1:6379';

describe('two hub processes on Redis', () => {
  const env = { REDIS_URL: REDIS, PREFIX: `test-${randomUUID()}` };
  let a: Awaited<ReturnType<typeof startClusterNode>>;
  let b: Awaited<ReturnType<typeof startClusterNode>>;
  before(async () => {
    [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('delivers room, user and tenant messages to exactly the right clients on both nodes, ws and Socket.IO', async () => {
    const onA = await member(`${a.ws}/live?user=ann&tenant=acme`, ['news']);
    const onB = await member(`${b.ws}/live?user=bob&tenant=acme`, ['news']);
    const otherB = await member(`${b.ws}/live?user=eve&tenant=globex`, ['sport']);
    const annIoOnB = await connectIo(b.base, { query: { user: 'ann', tenant: 'acme' }, transports: ['websocket'] });
    const eveIoOnA = await connectIo(a.base, { query: { user: 'eve', tenant: 'globex' }, transports: ['polling'] });

    await a.do('publish', { room: 'news', data: 'news from a' });
    await b.do('toUser', { id: 'ann', data: 'hi ann' });
    await a.do('toTenant', { id: 'globex', data: 'hi globex' });
    await eventually(() => onA.seen.length === 2 && onB.seen.length === 1 && otherB.seen.length === 1);
    assert.deepEqual(onA.seen, ['news from a', '{"event":"note","data":"hi ann"}']);
    assert.deepEqual(onB.seen, ['news from a']);
    assert.deepEqual(otherB.seen, ['{"event":"note","data":"hi globex"}']);
    assert.equal(await nextEvent(annIoOnB, 'note'), 'hi ann');
    assert.equal(await nextEvent(eveIoOnA, 'note'), 'hi globex');
    for (const each of [onA, onB, otherB]) each.ws.close();
    annIoOnB.close();
    eveIoOnA.close();
  });

  it("keeps a publisher's order on the other node, and delivers nothing after leaving", async () => {
    const onB = await member(`${b.ws}/live?user=x`, ['ordered']);
    await a.do('publish-many', { room: 'ordered', count: '300' });
    await eventually(() => onB.seen.length === 300);
    assert.deepEqual(
      onB.seen,
      Array.from({ length: 300 }, (_, index) => String(index)),
    );
    onB.ws.send('leave:ordered');
    await eventually(() => onB.seen.includes('ok leave:ordered'));
    await a.do('publish', { room: 'ordered', data: 'after leave' });
    await delay(200);
    assert.ok(!onB.seen.includes('after leave'));
    onB.ws.close();
  });

  it("holds the per-user limit across nodes: 'reject' refuses on the other node", async () => {
    const first = await open(`${a.ws}/single?user=solo`);
    await delay(50);
    const second = await attempt(`${b.ws}/single?user=solo`);
    assert.equal(second.status, 429);
    first.close();
    await closed(first);
    await eventually(async () => (await attempt(`${b.ws}/single?user=solo`)).status === 101, 5_000, 'a slot again');
  });

  it("'replace-oldest' closes the user's older connection on the other node with 4001", async () => {
    const old = await open(`${a.ws}/latest?user=mover`);
    await delay(50);
    const gone = closed(old);
    const latest = await open(`${b.ws}/latest?user=mover`);
    assert.equal((await gone).code, REPLACED_CLOSE_CODE);
    assert.equal(latest.readyState, latest.OPEN);
    latest.close();
  });

  it('disconnectUser on one node closes the user everywhere', async () => {
    const onB = await member(`${b.ws}/live?user=gone`);
    const ioOnB = await connectIo(b.base, { query: { user: 'gone' }, transports: ['websocket'] });
    const ioGone = nextEvent<string>(ioOnB, 'disconnect');
    await a.do('disconnectUser', { id: 'gone' });
    assert.deepEqual(await closed(onB.ws), { code: DISCONNECTED_CLOSE_CODE, reason: 'bye' });
    assert.equal(await ioGone, 'io server disconnect');
  });
});

describe('Redis failures', () => {
  it('Redis down at start: the node refuses to start with a clear error', async () => {
    const app = await startApp(CLUSTER_NODE, {
      nodeArgs: ['--import', 'tsx'],
      env: { REDIS_URL: 'redis://127.0.0.1:6398', PREFIX: 'down' },
    });
    assert.equal(app.port, undefined);
    assert.equal(await app.exited, 3);
    assert.match(app.output(), /redisBroker: cannot reach Redis at redis:\/\/127\.0\.0\.1:6398/);
  });

  it('Redis restarted while running: local delivery goes on, the loss is reported once, delivery across nodes resumes', async (t) => {
    const redis = new PrivateRedis(6391);
    t.after(() => redis.kill());
    const env = { REDIS_URL: redis.url, PREFIX: `restart-${randomUUID()}` };
    await redis.answering();
    const [a, b] = await Promise.all([startClusterNode(env), startClusterNode(env)]);
    t.after(() => Promise.all([a.stop(), b.stop()]));
    const local = await member(`${a.ws}/live?user=l`, ['room']);
    const remote = await member(`${b.ws}/live?user=r`, ['room']);
    await a.do('publish', { room: 'room', data: 'before' });
    await eventually(() => remote.seen.includes('before') && local.seen.includes('before'));

    redis.kill();
    await eventually(async () => ((await a.do('stats')) as { connected: boolean }).connected === false);
    await a.do('publish', { room: 'room', data: 'during' });
    await eventually(() => local.seen.includes('during'), 5_000, 'local delivery during the outage');
    assert.ok(((await a.do('stats')) as { dropped: number }).dropped >= 1, 'the cross-node copy is counted as dropped');

    redis.restart();
    await eventually(async () => ((await a.do('stats')) as { connected: boolean }).connected, 15_000, 'node a reconnected');
    await eventually(async () => ((await b.do('stats')) as { connected: boolean }).connected, 15_000, 'node b reconnected');
    await eventually(
      async () => {
        await a.do('publish', { room: 'room', data: 'after' });
        await delay(100);
        return remote.seen.includes('after');
      },
      15_000,
      'delivery across nodes after the restart',
    );
    assert.ok(!remote.seen.includes('during'), 'what was published during the outage did not cross nodes (documented)');
    const losses = a.output().match(/hub error: lost the connection/g) ?? [];
    assert.equal(losses.length, 1, `reported once: ${a.output()}`);
    local.ws.close();
    remote.ws.close();
  });
});
