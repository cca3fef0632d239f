/**
 * The server variants by name, loaded lazily: a server process imports only its own variant, so
 * the baseline never carries Switchboard's modules and the legacy app never carries the hub unless
 * the guard brings it.
 */
import type { StartServer } from './contract.js';

export const VARIANTS = {
  hub: async () => (await import('./hub.js')).start,
  'hub-users': async () => async () => (await import('./hub.js')).startUsers(true),
  'hub-users-quiet': async () => async () => (await import('./hub.js')).startUsers(false),
  'hub-metrics': async () => (await import('./hub-metrics.js')).start,
  'hub-10k-routes': async () => (await import('./hub-10k-routes.js')).start,
  'bare-ws': async () => (await import('./bare-ws.js')).start,
  'fastify-websocket': async () => (await import('./fastify-websocket.js')).start,
  crossws: async () => (await import('./crossws.js')).start,
  'socketio-hub': async () => (await import('./socketio-hub.js')).start,
  'socketio-bare': async () => (await import('./socketio-bare.js')).start,
  'legacy-app': async () => (await import('./legacy-app.js')).start,
  'fanout-hub': async () => (await import('./fanout.js')).startHub,
  'fanout-bare': async () => (await import('./fanout.js')).startBare,
  'fanout-floor': async () => (await import('./fanout.js')).startFloor,
  'fanout-socketio': async () => (await import('./fanout.js')).startSocketIO,
  'fanout-hub-redis': async () => (await import('./fanout.js')).startHubRedis,
  'scale-hub-redis': async () => (await import('./scale.js')).startScaleHub,
} satisfies Record<string, () => Promise<StartServer>>;

export type VariantName = keyof typeof VARIANTS;

export function isVariant(name: string): name is VariantName {
  return Object.hasOwn(VARIANTS, name);
}
