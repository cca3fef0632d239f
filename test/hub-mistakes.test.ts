import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { switchboard } from '../src/index.js';
import { failure } from './helpers.js';

describe('mistakes are found at start-up', () => {
  it('names both call sites when a pattern is registered twice', () => {
    const hub = switchboard(http.createServer());
    hub.ws('/chat'); // first claim
    const error = failure(() => hub.handle('/chat', () => {})); // second claim
    assert.equal(error.code, 'ERR_ROUTE_CONFLICT');
    assert.match(
      error.message,
      new RegExp(`handler route "/chat" at test/hub-mistakes\\.test\\.ts:${lineOf('// second claim')}:\\d+`),
    );
    assert.match(error.message, new RegExp(`ws route "/chat" at test/hub-mistakes\\.test\\.ts:${lineOf('// first claim')}:\\d+`));
  });

  it('treats /rooms/:id and /rooms/:roomId as the same route, but not different hosts or protocols', () => {
    const hub = switchboard(http.createServer());
    hub.ws('/rooms/:id');
    assert.equal(failure(() => hub.ws('/rooms/:roomId')).code, 'ERR_ROUTE_CONFLICT');
    assert.doesNotThrow(() => hub.ws('/rooms/:roomId', {}, { host: 'a.test' }));
    assert.doesNotThrow(() => hub.ws('/rooms/:roomId', {}, { protocol: 'graphql-transport-ws' }));
    assert.match(
      failure(() => hub.ws('/rooms/:x', {}, { protocol: 'graphql-transport-ws' })).message,
      /for protocol graphql-transport-ws/,
    );
  });

  it('refuses a WebSocketServer created with { server }, saying what to do', () => {
    const server = http.createServer();
    const hub = switchboard(server);
    const attached = new WebSocketServer({ server: http.createServer() });
    const error = failure(() => hub.ws('/chat', attached));
    assert.equal(error.code, 'ERR_WS_ATTACHED');
    assert.match(error.message, /noServer: true/);
    assert.match(error.message, /switchboard\/register/);
    attached.close();
  });

  it('refuses ws options that would take the server or contradict the route', () => {
    const hub = switchboard(http.createServer());
    assert.match(failure(() => hub.ws('/a', { port: 1234 } as never)).message, /leave out "port"/);
    assert.match(failure(() => hub.ws('/a', { path: '/b' })).message, /has path "\/b"/);
    assert.match(failure(() => hub.ws('/a', new WebSocketServer({ noServer: true, path: '/b' }))).message, /has path "\/b"/);
    assert.doesNotThrow(() => hub.ws('/c', new WebSocketServer({ noServer: true, path: '/c' })));
  });

  it('refuses unknown and malformed options with the list of known ones', () => {
    assert.match(
      failure(() => switchboard(http.createServer(), { handshakeTimeout: 5 } as never)).message,
      /unknown option "handshakeTimeout".*handshakeTimeoutMs/,
    );
    assert.match(failure(() => switchboard(http.createServer(), { unmatched: 'ignore' } as never)).message, /"reject" or "pass"/);
    assert.match(failure(() => switchboard(http.createServer(), { handshakeTimeoutMs: -1 })).message, /positive number/);
    assert.match(failure(() => switchboard(http.createServer(), { logger: {} as never })).message, /pino fits/);
    const hub = switchboard(http.createServer());
    assert.match(failure(() => hub.ws('/a', {}, { maxConnection: 3 } as never)).message, /unknown option "maxConnection"/);
    assert.match(failure(() => hub.ws('/b', {}, { maxConnections: 1.5 })).message, /whole number/);
    assert.match(failure(() => hub.ws('/c', {}, { origins: 'https://x' as never })).message, /array of origins/);
    assert.match(failure(() => hub.ws('/d', {}, { authenticate: 'yes' as never })).message, /authenticate must be a function/);
    assert.match(failure(() => hub.ws('/e', {}, { perUser: { max: 0 } })).message, /perUser must be/);
    assert.match(failure(() => hub.handle('/f', 'nope' as never)).message, /handler must be a function/);
    assert.equal(failure(() => hub.ws('no-slash')).code, 'ERR_INVALID_PATTERN');
    assert.deepEqual(hub.routes(), [], 'a refused registration leaves nothing behind');
  });

  it('explains what to pass when given something that is not a server', () => {
    const expressLike = Object.assign(() => {}, { handle() {}, listen() {} });
    assert.match(failure(() => switchboard(expressLike as never)).message, /Express app: pass http.createServer\(app\)/);
    assert.match(failure(() => switchboard({ server: {} } as never)).message, /fastify.server/);
    assert.match(failure(() => switchboard(undefined as never)).message, /expected a Node http.Server/);
  });

  it('refuses routes after close()', async () => {
    const hub = switchboard(http.createServer());
    await hub.close();
    assert.equal(failure(() => hub.ws('/late')).code, 'ERR_HUB_CLOSED');
  });
});

/** The line of this file holding `marker`, counted from 1. */
function lineOf(marker: string): number {
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return source.findIndex((line) => line.includes(marker) && !line.includes('lineOf(')) + 1;
}
