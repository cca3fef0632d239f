import http from 'node:http';
import https from 'node:https';
import { callSite, existingHub, HUB_LISTENER, type UpgradeListener } from '../hub/index.js';
import { guardHub } from '../switchboard.js';
import { report } from './findings.js';

const PATCHED = Symbol.for('switchboard.guard.server');
const ADD = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;
const REMOVE = ['removeListener', 'off'] as const;

/** Servers that listened, for the doctor's report. */
export const listeningServers = new Set<http.Server>();

/**
 * Any other code's `server.on('upgrade', fn)` (a library's, the app's own) is adopted by the hub:
 * it gets the handshakes no route takes, after the listeners adopted before it and only while
 * none of them has answered, instead of racing the others for every socket.
 */
export function patchServers(): void {
  for (const ServerClass of [http.Server, https.Server]) {
    const prototype = ServerClass.prototype as unknown as Record<PropertyKey, unknown>;
    if (prototype[PATCHED]) continue;
    Object.defineProperty(prototype, PATCHED, { value: true });
    for (const method of ADD) {
      const original = prototype[method] as (this: http.Server, event: string | symbol, listener: unknown) => http.Server;
      prototype[method] = function addThroughHub(this: http.Server, event: string | symbol, listener: UpgradeListener) {
        if (event !== 'upgrade' || (listener as unknown as Record<symbol, unknown>)[HUB_LISTENER]) {
          return original.call(this, event, listener);
        }
        adopt(this, listener, method === 'once' || method === 'prependOnceListener');
        return this;
      };
    }
    for (const method of REMOVE) {
      const original = prototype[method] as (this: http.Server, event: string | symbol, listener: unknown) => http.Server;
      prototype[method] = function removeThroughHub(this: http.Server, event: string | symbol, listener: UpgradeListener) {
        if (event !== 'upgrade') return original.call(this, event, listener);
        const hub = existingHub(this);
        const result = original.call(this, event, listener);
        if (hub?.unadopt(listener)) hub.releaseIfUnused();
        return result;
      };
    }
    const listen = prototype.listen as (this: http.Server, ...args: unknown[]) => http.Server;
    prototype.listen = function listenAndRecord(this: http.Server, ...args: unknown[]) {
      listeningServers.add(this);
      return listen.apply(this, args);
    };
  }
}

/**
 * A conflict seen while handshakes are served: printed once, and under SWITCHBOARD_STRICT=1 the
 * same error a start-up conflict is, thrown outside the handshake that revealed it.
 */
function reportAtRunTime(finding: Parameters<typeof report>[0]): void {
  try {
    report(finding);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

/** Hubs whose 'shadowed' findings the guard reports. */
const watched = new WeakSet<object>();

function adopt(server: http.Server, listener: UpgradeListener, once: boolean): void {
  const hub = guardHub(server);
  hub.adopt(listener, callSite(), once);
  if (watched.has(hub)) return;
  watched.add(hub);
  // Reported when it happens, not when the second listener is added: most pairs never conflict.
  hub.on('shadowed', ({ owner, shadowed, paths }) => {
    const second = shadowed[0];
    reportAtRunTime({
      severity: 'conflict',
      summary: "two raw 'upgrade' listeners",
      message:
        `two 'upgrade' listeners of their own on one server: at ${owner ?? 'an unknown place'} and at ${second ?? 'an unknown place'}. ` +
        `The first answers every path (${paths.map((path) => JSON.stringify(path)).join(' and ')} so far), so the second never gets a handshake. ` +
        'Mount them as routes with their paths (hub.handle(path, …)) instead.',
      parties: [owner ?? 'unknown', ...shadowed.map((party) => party ?? 'unknown')],
    });
  });
}
