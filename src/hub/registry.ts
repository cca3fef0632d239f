import type { Server } from 'node:http';
import { SwitchboardError } from '../errors.js';
import type { Hub } from './hub.js';

/**
 * Kept on the server under a global symbol rather than in a module-level map, so that every copy
 * of Switchboard in a process (its ESM and CommonJS builds, two installed versions) finds the same
 * hub: two hubs on one server would be two owners of 'upgrade' again.
 */
const HUB = Symbol.for('switchboard.hub');

type WithHub = Server & { [HUB]?: Hub };

export function existingHub(server: Server): Hub | undefined {
  return (server as WithHub)[HUB];
}

export function hubFor<H extends Hub>(server: unknown, create: (server: Server) => H): H {
  assertServer(server);
  const existing = (server as WithHub)[HUB];
  if (existing) return existing as H;
  const hub = create(server);
  Object.defineProperty(server, HUB, { value: hub, configurable: true });
  return hub;
}

/** Drops `hub` from its server (see `Hub.releaseIfUnused`); the next `hubFor` makes a new one. */
export function forgetHub(server: Server, hub: Hub): void {
  if ((server as WithHub)[HUB] === hub) delete (server as WithHub)[HUB];
}

function assertServer(server: unknown): asserts server is Server {
  const looksLikeServer =
    typeof server === 'object' &&
    server !== null &&
    typeof (server as Server).on === 'function' &&
    typeof (server as Server).listen === 'function' &&
    typeof (server as Server).listenerCount === 'function';
  if (looksLikeServer) return;
  const hint =
    typeof server === 'function' && 'handle' in server
      ? ' This looks like an Express app: pass http.createServer(app), or the server returned by app.listen().'
      : typeof server === 'object' && server !== null && 'server' in server
        ? ' This looks like a framework instance: pass its Node server (for Fastify, fastify.server).'
        : '';
  throw new SwitchboardError(
    'ERR_INVALID_OPTION',
    `switchboard(server): expected a Node http.Server or https.Server, got ${describe(server)}.${hint}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return typeof value;
}
