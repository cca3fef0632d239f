import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, describe, it } from 'node:test';
import { connect, type PresenceInfo } from '../src/client/index.js';
import { switchboard } from '../src/index.js';
import { FAST, open, opened, send, wireServer } from './client-helpers.js';
import { closeServer, eventually, listen } from './helpers.js';

afterEach(() => {
  for (const conn of opened.splice(0)) conn.close();
});

describe('switchboard/client on a route with presence: true', () => {
  it('hands presence frames to onPresence, not to subscribers, and resumes nothing', async (t) => {
    const srv = await wireServer((conn) => {
      send(conn.ws, { sb: 'hello', presence: true });
      send(conn.ws, { sb: 'presence', room: 'lobby', type: 'state', members: [{ userId: 'ann', connections: 1 }] });
      send(conn.ws, 'an app message');
      send(conn.ws, { sb: 'presence', room: 'lobby', type: 'join', userId: 'bob', tenantId: 'acme' });
      send(conn.ws, { sb: 'presence', room: 'lobby', type: 'join' });
    });
    t.after(srv.stop);
    const { conn, heard, errors } = open(`${srv.url}/lobby`);
    const presences: PresenceInfo[] = [];
    conn.onPresence((presence) => presences.push(presence));
    await eventually(() => presences.length === 2 && errors.length === 1);
    assert.deepEqual(presences, [
      { room: 'lobby', type: 'state', members: [{ userId: 'ann', connections: 1 }] },
      { room: 'lobby', type: 'join', userId: 'bob', tenantId: 'acme' },
    ]);
    assert.deepEqual(
      heard.map((each) => each.data),
      ['an app message'],
    );
    assert.match(String((errors[0] as Error).message), /malformed frame/);
    srv.seen[0]?.ws.terminate();
    await eventually(() => srv.seen.length === 2);
    assert.equal(srv.seen[1]?.rawResume, undefined, 'a presence route does not recover');
  });

  it('tells who enters and leaves a room of the hub, with who was there first', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const identify = (req: http.IncomingMessage) => ({
      userId: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'x',
    });
    hub.ws('/lobby', {}, { authenticate: identify, presence: true }).on('connection', (ws) => hub.join(ws, 'lobby'));
    const { url } = await listen(server);
    t.after(async () => {
      await hub.close({ timeoutMs: 100 });
      await closeServer(server);
    });
    const { conn } = open(`${url}/lobby?user=ann`);
    const presences: PresenceInfo[] = [];
    conn.onPresence((presence) => presences.push(presence));
    await eventually(() => presences.some((p) => p.room === 'lobby' && p.type === 'state'));
    const bob = connect(`${url}/lobby?user=bob`, FAST);
    opened.push(bob);
    await eventually(() => presences.some((p) => p.type === 'join' && p.userId === 'bob' && p.room === 'lobby'));
    bob.close();
    await eventually(() => presences.some((p) => p.type === 'leave' && p.userId === 'bob' && p.room === 'lobby'));
    const state = presences.find((p) => p.room === 'lobby' && p.type === 'state');
    assert.ok(state?.type === 'state' && state.members.some((member) => member.userId === 'ann'), 'ann sees herself in the room');
  });
});
