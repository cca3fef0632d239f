import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { PER_USER_LIMIT_CODE, REPLACED_EVENT, type SocketIOConnect, switchboard } from '../src/index.js';
import { closeServer, delay, eventually, failure, listen } from './helpers.js';
import { type ClientSocket, connectIo, nextEvent } from './io-helpers.js';

const base = (port: number) => `http://127.0.0.1:${port}`;

type Refused = Error & { data?: { code?: unknown } };

/** A logger that keeps what the hub says, so that a test can look and the console stays quiet. */
function keptLogger() {
  const kept = { warn: [] as string[], error: [] as unknown[] };
  const logger = {
    debug() {},
    info() {},
    warn: (_fields: object, message?: string) => kept.warn.push(message ?? ''),
    error: (fields: object) => kept.error.push((fields as { err?: unknown }).err),
  };
  return { kept, logger };
}

/** Users by token, as an app's token store would have them. */
const TOKENS: Record<string, { userId: string | number; tenantId: string }> = {
  'ann-token': { userId: 'ann', tenantId: 'acme' },
  'bob-token': { userId: 'bob', tenantId: 'acme' },
  'eve-token': { userId: 'eve', tenantId: 'globex' },
  'seven-token': { userId: 7, tenantId: 'acme' },
};

/** Listens for `event` on each client, by name, to compare what each one got. */
function inboxes(clients: Record<string, ClientSocket>, event: string): Record<string, unknown[]> {
  const seen: Record<string, unknown[]> = {};
  for (const [name, socket] of Object.entries(clients)) {
    seen[name] = [];
    socket.on(event, (value: unknown) => seen[name]?.push(value));
  }
  return seen;
}

describe("authenticate with the CONNECT packet's auth (authenticateOn: 'connect')", () => {
  const { kept, logger } = keptLogger();
  const server = http.createServer();
  const hub = switchboard(server, { logger });
  const calls: Array<{ sid: string | null; connect: SocketIOConnect | undefined }> = [];
  const io = hub.io(undefined, {
    authenticateOn: 'connect',
    authenticate: async (req, connect) => {
      calls.push({ sid: new URL(req.url ?? '/', 'http://x').searchParams.get('sid'), connect });
      await delay(1);
      const token = connect?.auth.token;
      if (token === 'throws') throw new Error('token store unavailable');
      return typeof token === 'string' ? (TOKENS[token] ?? null) : null;
    },
  });
  const hello = (socket: ServerSocket) => socket.emit('hello', { nsp: socket.nsp.name, data: socket.data });
  io.on('connection', hello);
  io.of('/admin').on('connection', hello);
  let port = 0;

  before(async () => {
    ({ port } = await listen(server));
  });
  after(() => closeServer(server));

  it('admits a client whose auth carries a good token, on both transports, with the principal in socket.data', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      calls.length = 0;
      const socket = await connectIo(base(port), { transports, auth: { token: 'ann-token' } });
      const { nsp, data } = await nextEvent<{ nsp: string; data: Record<string, unknown> }>(socket, 'hello');
      assert.equal(nsp, '/');
      assert.equal(data.userId, 'ann', `over ${transports}`);
      assert.equal(data.tenantId, 'acme');
      assert.deepEqual(data.principal, { userId: 'ann', tenantId: 'acme' });
      assert.deepEqual(
        calls,
        [{ sid: null, connect: { auth: { token: 'ann-token' }, namespace: '/' } }],
        'called once, on the CONNECT, with the request that opened the session',
      );
      socket.close();
    }
  });

  it('refuses a missing, unknown or failing token with a connect_error whose err.data.code is 401', async () => {
    for (const auth of [undefined, { token: 'forged' }, { token: 'throws' }]) {
      const error = (await connectIo(base(port), { transports: ['websocket'], ...(auth && { auth }) }).catch(
        (e) => e,
      )) as Refused;
      assert.ok(error instanceof Error, `refused: ${JSON.stringify(auth)}`);
      assert.equal(error.message, 'authentication failed');
      assert.equal(error.data?.code, 401);
    }
    const reported = kept.error.find((each) => each instanceof Error && each.message === 'token store unavailable');
    assert.ok(reported, 'the throw is reported to the app, not sent to the client');
  });

  it('authenticates each namespace with its own auth, and sends the user and tenant what is theirs', async () => {
    calls.length = 0;
    const ann = await connectIo(base(port), { transports: ['websocket'], auth: { token: 'ann-token' } });
    const annAdmin = await connectIo(`${base(port)}/admin`, { transports: ['websocket'], auth: { token: 'ann-token' } });
    const bob = await connectIo(base(port), { transports: ['polling'], auth: { token: 'bob-token' } });
    const eve = await connectIo(base(port), { transports: ['websocket'], auth: { token: 'eve-token' } });
    const refused = (await connectIo(`${base(port)}/admin`, { transports: ['websocket'] }).catch((e) => e)) as Refused;
    assert.equal(refused.data?.code, 401, 'a namespace connect without the token is refused on its own');
    assert.deepEqual(
      calls.map(({ connect }) => connect?.namespace),
      ['/', '/admin', '/', '/', '/admin'],
    );
    const clients = { ann, annAdmin, bob, eve };
    const seen = inboxes(clients, 'note');
    hub.toUser('ann').emit('note', 'for ann');
    hub.toTenant('acme').emit('note', 'for acme');
    hub.toUser('ann', { namespace: '/admin' }).emit('note', 'for ann in admin');
    await eventually(() => seen.annAdmin?.length === 3 && seen.bob?.length === 1);
    await delay(50);
    assert.deepEqual(seen, {
      ann: ['for ann', 'for acme'],
      annAdmin: ['for ann', 'for acme', 'for ann in admin'],
      bob: ['for acme'],
      eve: [],
    });
    for (const socket of Object.values(clients)) socket.close();
  });

  it("authenticates a reconnect with the token that the client's auth callback returns then", async (t) => {
    const valid = new Set(['first-token']);
    const seenTokens: unknown[] = [];
    const refresh = new http.Server();
    const refreshHub = switchboard(refresh, { logger });
    const refreshIo = refreshHub.socketio(new Server({ path: '/socket.io' }), {
      authenticateOn: 'connect',
      authenticate: (_req, connect) => {
        const token = connect?.auth.token;
        seenTokens.push(token);
        return typeof token === 'string' && valid.has(token) ? { userId: 'ann', token } : null;
      },
    });
    const sessions: ServerSocket[] = [];
    refreshIo.on('connection', (socket) => {
      sessions.push(socket);
      socket.emit('hello', socket.data.token);
    });
    const { port: refreshPort } = await listen(refresh);
    t.after(() => closeServer(refresh));

    let current = 'first-token';
    const client = await connectIo(base(refreshPort), {
      transports: ['websocket'],
      auth: (callback) => callback({ token: current }),
      reconnection: true,
      reconnectionDelay: 20,
      randomizationFactor: 0,
    });
    assert.equal(await nextEvent(client, 'hello'), 'first-token');

    // The old token expires and the client holds a new one; then the connection drops.
    valid.delete('first-token');
    valid.add('second-token');
    current = 'second-token';
    const reconnected = nextEvent(client, 'connect');
    sessions[0]?.conn.close();
    await reconnected;
    assert.equal(await nextEvent(client, 'hello'), 'second-token');
    assert.deepEqual(seenTokens, ['first-token', 'second-token']);
    assert.equal(sessions.length, 2);
    client.close();
  });
});

describe('authenticate on the HTTP request (the default) on Socket.IO', () => {
  it('runs once per session, however many namespaces the client joins, and is given req alone', async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const calls: number[] = [];
    const io = hub.socketio(new Server({ path: '/socket.io' }), {
      authenticate: (...args: unknown[]) => {
        calls.push(args.length);
        return { userId: 'ann' };
      },
    });
    io.of('/admin');
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const main = await connectIo(base(port), { transports: ['websocket'] });
    const admin = main.io.socket('/admin', { auth: { token: 'ann-token' } });
    admin.connect();
    await nextEvent(admin, 'connect');
    assert.deepEqual(calls, [1]);
    admin.close();
    main.close();
  });
});

describe("identity from the app's own io.use middleware", () => {
  const server = http.createServer();
  const hub = switchboard(server);
  /** The idiomatic Socket.IO middleware: the token from the CONNECT packet, the user into socket.data. */
  const fromToken = (socket: ServerSocket, next: (error?: Error) => void) => {
    const user = TOKENS[String(socket.handshake.auth.token)];
    if (!user) {
      next(Object.assign(new Error('unknown token'), { data: { code: 'BAD_TOKEN' } }));
      return;
    }
    socket.data.userId = user.userId;
    socket.data.tenantId = user.tenantId;
    next();
  };
  const app = new Server({ path: '/socket.io' });
  app.use(fromToken); // before the hub mounts it
  hub.socketio(app);
  app.of('/admin').use(fromToken); // and after
  const limited = hub.socketio(new Server({ path: '/one' }), { perUser: { max: 1, onExceed: 'reject' } });
  limited.use(fromToken);
  let port = 0;

  before(async () => {
    ({ port } = await listen(server));
  });
  after(() => closeServer(server));
  const as = (token: string, extra: object = {}) => ({ transports: ['websocket'], auth: { token }, ...extra });

  it('puts the socket in its user and tenant rooms, so hub.toUser and hub.toTenant reach it', async () => {
    const ann = await connectIo(base(port), as('ann-token'));
    const annAdmin = await connectIo(`${base(port)}/admin`, as('ann-token'));
    const bob = await connectIo(base(port), as('bob-token', { transports: ['polling'] }));
    const eve = await connectIo(base(port), as('eve-token'));
    const seven = await connectIo(base(port), as('seven-token'));
    const refused = (await connectIo(base(port), as('forged')).catch((e) => e)) as Refused;
    assert.equal(refused.data?.code, 'BAD_TOKEN', "the app's own refusal reaches the client as it wrote it");

    const clients = { ann, annAdmin, bob, eve, seven };
    const seen = inboxes(clients, 'note');
    hub.toUser('ann').emit('note', 'for ann');
    hub.toUser(7).emit('note', 'for user 7');
    hub.toTenant('acme').emit('note', 'for acme');
    hub.toTenant('globex').emit('note', 'for globex');
    await eventually(() => seen.annAdmin?.length === 2 && seen.seven?.length === 2 && seen.eve?.length === 1);
    await delay(50);
    assert.deepEqual(seen, {
      ann: ['for ann', 'for acme'],
      annAdmin: ['for ann', 'for acme'],
      bob: ['for acme'],
      eve: ['for globex'],
      seven: ['for user 7', 'for acme'],
    });
    for (const socket of Object.values(clients)) socket.close();
  });

  it('applies perUser to that identity: the extra session gets connect_error with PER_USER_LIMIT, and a freed slot admits again', async () => {
    const first = await connectIo(base(port), as('ann-token', { path: '/one' }));
    const extra = (await connectIo(base(port), as('ann-token', { path: '/one', transports: ['polling'] })).catch(
      (e) => e,
    )) as Refused;
    assert.match(extra.message, /too many connections for this user \(at most 1/);
    assert.equal(extra.data?.code, PER_USER_LIMIT_CODE);
    const bob = await connectIo(base(port), as('bob-token', { path: '/one' }));
    first.close();
    await eventually(() => hub.routes().find((each) => each.pattern === '/one/*')?.connections === 1);
    const again = await connectIo(base(port), as('ann-token', { path: '/one' }));
    again.close();
    bob.close();
  });
});

describe('the per-user policy with identities known on connect', () => {
  it("counts a session once per user it carries, and 'replace-oldest' takes only that user's sockets from it", async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const io = hub.socketio(new Server({ path: '/socket.io' }), {
      authenticateOn: 'connect',
      authenticate: (_req, connect) => TOKENS[String(connect?.auth.token)] ?? null,
      perUser: { max: 1, onExceed: 'replace-oldest' },
    });
    io.of('/admin');
    const { port } = await listen(server);
    t.after(() => closeServer(server));

    // One session, two users: ann on the main namespace, bob on /admin.
    const ann = await connectIo(base(port), { transports: ['websocket'], auth: { token: 'ann-token' } });
    const bob = ann.io.socket('/admin', { auth: { token: 'bob-token' } });
    bob.connect();
    await nextEvent(bob, 'connect');
    const replaced = nextEvent<{ reason: string }>(ann, REPLACED_EVENT);
    const annGone = nextEvent<string>(ann, 'disconnect');

    const newer = await connectIo(base(port), { transports: ['websocket'], auth: { token: 'ann-token' } });
    assert.match((await replaced).reason, /replaced by a newer connection/);
    assert.equal(await annGone, 'io server disconnect');
    await delay(50);
    assert.equal(bob.connected, true, "bob's socket on the same session stays");
    newer.close();
    bob.close();
    ann.close();
  });
});

describe('identity from identify, and what the app changes', () => {
  it("takes identify's identity over a principal's own userId field, and the app's middleware over both", async (t) => {
    const server = http.createServer();
    const hub = switchboard(server);
    const io = hub.socketio(new Server({ path: '/socket.io' }), {
      authenticateOn: 'connect',
      authenticate: (_req, connect) => ({ userId: 'from-principal', org: String(connect?.auth.org) }),
      identify: (principal) => ({ tenantId: (principal as { org: string }).org }),
    });
    io.of('/renamed').use((socket, next) => {
      socket.data.userId = `app-${socket.data.principal.org}`;
      next();
    });
    const { port } = await listen(server);
    t.after(() => closeServer(server));
    const plain = await connectIo(base(port), { transports: ['websocket'], auth: { org: 'acme' } });
    const renamed = await connectIo(`${base(port)}/renamed`, { transports: ['websocket'], auth: { org: 'acme' } });
    const seen = inboxes({ plain, renamed }, 'note');
    hub.toUser('from-principal').emit('note', 'to the principal field');
    hub.toUser('app-acme').emit('note', "to the app's user");
    hub.toTenant('acme').emit('note', 'to the tenant');
    await eventually(() => seen.plain?.length === 1 && seen.renamed?.length === 2);
    await delay(50);
    assert.deepEqual(seen, { plain: ['to the tenant'], renamed: ["to the app's user", 'to the tenant'] });
    plain.close();
    renamed.close();
  });
});

describe('authentication options that cannot work are refused at start-up', () => {
  it('explains each mistake', () => {
    const hub = switchboard(http.createServer());
    const authenticate = () => ({ userId: 'ann' });
    assert.match(
      failure(() => hub.ws('/live', {}, { authenticateOn: 'connect', authenticate })).message,
      /authenticateOn: "connect" is for Socket\.IO routes/,
    );
    assert.match(
      failure(() => hub.socketio(new Server({ path: '/a' }), { authenticateOn: 'connect' })).message,
      /authenticateOn: "connect" needs authenticate, a function \(req, \{ auth, namespace \}\)/,
    );
    assert.match(
      failure(() => hub.socketio(new Server({ path: '/b' }), { authenticateOn: 'handshake' as never, authenticate })).message,
      /authenticateOn must be "request" or "connect", not "handshake"/,
    );
    assert.match(
      failure(() => hub.socketio(new Server({ path: '/c' }), { authenticate: 'secret' as never })).message,
      /authenticate must be a function \(req\) => principal \| null.*authenticateOn: "connect"/,
    );
  });

  it('warns when authenticate takes a connect argument it would never be given', () => {
    const { kept, logger } = keptLogger();
    const hub = switchboard(http.createServer(), { logger });
    hub.socketio(new Server({ path: '/d' }), { authenticate: (_req, connect) => connect?.auth ?? null });
    assert.equal(kept.warn.length, 1);
    assert.match(kept.warn[0] ?? '', /add authenticateOn: 'connect'/);
    hub.socketio(new Server({ path: '/e' }), {
      authenticateOn: 'connect',
      authenticate: (_req, connect) => connect?.auth ?? null,
    });
    hub.socketio(new Server({ path: '/f' }), { authenticate: (req) => req.headers.authorization ?? null });
    assert.equal(kept.warn.length, 1, 'nothing to say about the others');
  });
});
