import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePattern, RouteTable } from '../src/router/index.js';

function tableOf(...keys: Array<string | { pattern: string; host?: string; protocol?: string }>): RouteTable<string> {
  const table = new RouteTable<string>();
  for (const key of keys) {
    const spec = typeof key === 'string' ? { pattern: key } : key;
    const name = [spec.pattern, spec.host, spec.protocol].filter(Boolean).join(' ');
    assert.equal(table.add(spec, name).added, true, `added ${name}`);
  }
  return table;
}

function winner(table: RouteTable<string>, path: string, extra: { host?: string; protocols?: string[] } = {}) {
  return table.match({ path, ...extra })?.value;
}

describe('parsePattern', () => {
  it('recognises the three kinds', () => {
    assert.equal(parsePattern('/chat').kind, 'exact');
    assert.equal(parsePattern('/').kind, 'exact');
    assert.equal(parsePattern('/rooms/:id').kind, 'param');
    assert.equal(parsePattern('/prefix/*').kind, 'prefix');
    assert.equal(parsePattern('/*').kind, 'prefix');
  });

  it('gives patterns that differ only in parameter names the same key', () => {
    assert.equal(parsePattern('/rooms/:id').key, parsePattern('/rooms/:roomId').key);
    assert.notEqual(parsePattern('/rooms/:id').key, parsePattern('/rooms/x').key);
  });

  for (const bad of [
    'chat',
    '',
    '/a/*/b',
    '/a*',
    '/a/:',
    '/a/:1x',
    '/a/x:y',
    '/a?x=1',
    '/a#f',
    '//a',
    '/a//*',
    '/a/:id/*',
    '/a/:x/:x',
  ]) {
    it(`refuses ${JSON.stringify(bad)} with a message naming the accepted forms`, () => {
      assert.throws(
        () => parsePattern(bad),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'ERR_INVALID_PATTERN');
          assert.match(error.message, /Accepted forms: "\/exact", "\/rooms\/:id", "\/prefix\/\*"/);
          return true;
        },
      );
    });
  }
});

describe('RouteTable precedence', () => {
  const keys = ['/*', '/rooms/*', '/rooms/:id', '/rooms/lobby', '/rooms/:id/members', '/rooms/lobby/*', '/:section/lobby'];

  // Every rotation of the registration order must give the same answers.
  for (let shift = 0; shift < keys.length; shift++) {
    const order = [...keys.slice(shift), ...keys.slice(0, shift)];
    it(`is independent of registration order (rotation ${shift})`, () => {
      const table = tableOf(...order);
      assert.equal(winner(table, '/rooms/lobby'), '/rooms/lobby', 'exact beats parameter and prefix');
      assert.equal(winner(table, '/rooms/42'), '/rooms/:id', 'parameter beats prefix');
      assert.equal(winner(table, '/rooms/42/members'), '/rooms/:id/members');
      assert.equal(winner(table, '/rooms/lobby/members'), '/rooms/:id/members', 'a parameter pattern beats a prefix');
      assert.equal(winner(table, '/rooms/lobby/x/y'), '/rooms/lobby/*', 'longest prefix wins');
      assert.equal(winner(table, '/rooms/42/x/y'), '/rooms/*');
      assert.equal(winner(table, '/halls/lobby'), '/:section/lobby');
      assert.equal(winner(table, '/elsewhere'), '/*');
      assert.equal(winner(table, '/'), '/*');
    });
  }

  it('prefers literal segments left to right, backtracking when a literal branch dead-ends', () => {
    const table = tableOf('/a/:x/c', '/:y/b/c', '/a/b/:z');
    assert.equal(winner(table, '/a/b/c'), '/a/b/:z');
    assert.equal(winner(table, '/a/q/c'), '/a/:x/c');
    assert.equal(winner(table, '/q/b/c'), '/:y/b/c');
    assert.equal(winner(table, '/q/q/c'), undefined);
  });

  it('decodes parameters and gives the rest of a prefix match as "*"', () => {
    const table = tableOf('/rooms/:id', '/files/*');
    assert.deepEqual(table.match({ path: '/rooms/caf%C3%A9' })?.params, { id: 'café' });
    assert.deepEqual(table.match({ path: '/files/a/b%20c' })?.params, { '*': 'a/b c' });
    assert.deepEqual(table.match({ path: '/files' })?.params, { '*': '' });
  });

  it('does not let a parameter take an empty segment', () => {
    const table = tableOf('/rooms/:id');
    assert.equal(winner(table, '/rooms/'), undefined);
    assert.equal(winner(table, '/rooms'), undefined);
  });

  it('treats exact paths strictly (trailing slash is another path)', () => {
    const table = tableOf('/chat');
    assert.equal(winner(table, '/chat'), '/chat');
    assert.equal(winner(table, '/chat/'), undefined);
    assert.equal(winner(table, '/chatroom'), undefined);
  });

  it('lets a prefix match its own root but not a longer name', () => {
    const table = tableOf('/socket.io/*');
    assert.equal(winner(table, '/socket.io'), '/socket.io/*');
    assert.equal(winner(table, '/socket.io/'), '/socket.io/*');
    assert.equal(winner(table, '/socket.iox'), undefined);
  });
});

describe('RouteTable hosts and protocols', () => {
  it('prefers a host-bound route to a host-free one, whatever their paths', () => {
    const table = tableOf('/chat', { pattern: '/*', host: 'admin.example.com' }, { pattern: '/chat', host: '*.example.com' });
    assert.equal(winner(table, '/chat', { host: 'admin.example.com' }), '/* admin.example.com');
    assert.equal(winner(table, '/chat', { host: 'shop.example.com' }), '/chat *.example.com');
    assert.equal(winner(table, '/chat', { host: 'example.com' }), '/chat', 'a wildcard needs a sub-domain');
    assert.equal(winner(table, '/chat', { host: 'other.org' }), '/chat');
    assert.equal(winner(table, '/chat'), '/chat');
  });

  it('lets two routes share a path when they differ by protocol', () => {
    const table = tableOf('/', { pattern: '/', protocol: 'vite-hmr' }, { pattern: '/', protocol: 'graphql-transport-ws' });
    assert.equal(winner(table, '/', { protocols: ['vite-hmr'] }), '/ vite-hmr');
    assert.equal(winner(table, '/', { protocols: ['x', 'graphql-transport-ws'] }), '/ graphql-transport-ws');
    assert.equal(winner(table, '/', { protocols: ['other'] }), '/');
    assert.equal(winner(table, '/'), '/');
  });

  it('falls through to a less specific path when the protocol does not match', () => {
    const table = tableOf({ pattern: '/hmr', protocol: 'vite-hmr' }, '/*');
    assert.equal(winner(table, '/hmr', { protocols: ['vite-hmr'] }), '/hmr vite-hmr');
    assert.equal(winner(table, '/hmr'), '/*');
  });

  it('reports the existing value for a duplicate key instead of adding it', () => {
    const table = tableOf('/rooms/:id', { pattern: '/x', host: 'a.com', protocol: 'p' });
    assert.deepEqual(table.add({ pattern: '/rooms/:other' }, 'second'), { added: false, existing: '/rooms/:id' });
    assert.deepEqual(table.add({ pattern: '/x', host: 'A.com', protocol: 'p' }, 'second'), {
      added: false,
      existing: '/x a.com p',
    });
    assert.equal(table.add({ pattern: '/x', host: 'a.com' }, 'third').added, true);
  });

  it('removes a route by its key', () => {
    const table = tableOf('/a', '/b/:id', '/c/*');
    assert.equal(table.remove({ pattern: '/b/:x' }), true);
    assert.equal(table.remove({ pattern: '/b/:x' }), false);
    assert.equal(winner(table, '/b/1'), undefined);
    assert.equal(winner(table, '/a'), '/a');
  });

  it('refuses invalid hosts and protocols with an explanation', () => {
    const table = new RouteTable<string>();
    assert.throws(() => table.add({ pattern: '/a', host: 'https://x.com/' }, 'v'), /Invalid host/);
    assert.throws(() => table.add({ pattern: '/a', protocol: 'two words' }, 'v'), /Invalid protocol/);
  });

  it('keeps exact lookups independent of the number of exact routes', () => {
    const table = new RouteTable<number>();
    for (let index = 0; index < 10_000; index++) table.add({ pattern: `/r/${index}` }, index);
    assert.equal(table.match({ path: '/r/9999' })?.value, 9999);
    assert.equal(table.match({ path: '/r/10000' }), undefined);
  });
});
