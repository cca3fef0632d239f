export { contextOf, type WsRouteServerOptions } from './adapters/index.js';
export { SwitchboardError, type SwitchboardErrorCode } from './errors.js';
export type {
  Closable,
  CloseOptions,
  HubOptions,
  HubStats,
  Identity,
  Logger,
  RejectEvent,
  RouteInfo,
  RouteOptions,
  UpgradeContext,
  UpgradeHandler,
} from './hub/index.js';
export { Hub, Route } from './hub/index.js';
export { Switchboard, type SwitchboardOptions, switchboard } from './switchboard.js';
