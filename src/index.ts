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
export {
  PER_USER_LIMIT_CODE,
  REPLACED_CLOSE_CODE,
  REPLACED_EVENT,
  REPLACED_REASON,
  type Target,
  type TargetOptions,
  tenantRoom,
  userRoom,
} from './realtime/index.js';
export { Switchboard, type SwitchboardOptions, switchboard } from './switchboard.js';
