export {
  type AdmissionCheck,
  admit,
  admitOnConnect,
  normalizeIdentity,
  originAllowed,
  type Refusal,
  type Verdict,
} from './admission.js';
export { callSite } from './call-site.js';
export { type AdoptedEvent, type ConnectionEvent, HUB_LISTENER, Hub, type HubEvents, type UpgradeListener } from './hub.js';
export { Limiter, type LimitOptions } from './limits.js';
export { consoleLogger, type Logger } from './logger.js';
export type { HubOptions, ResolvedHubOptions } from './options.js';
export { existingHub, hubFor } from './registry.js';
export { writeRejection } from './reject.js';
export { requestContext, setRequestContext } from './request-context.js';
export { parseRequestTarget, type RequestTarget } from './request-target.js';
export type { ConnectionHandle, RequestHandler } from './route.js';
export { Route, type RouteSpec } from './route.js';
export type { ShadowedEvent } from './shadowing.js';
export type {
  Closable,
  CloseOptions,
  HubStats,
  Identity,
  RejectEvent,
  RouteInfo,
  RouteOptions,
  SocketIOConnect,
  UpgradeContext,
  UpgradeHandler,
} from './types.js';
