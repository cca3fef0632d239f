export { contextOf, type WsRouteServerOptions } from './adapters/index.js';
export { type Broker, type BrokerStats, memoryBroker } from './cluster/index.js';
export { SwitchboardError, type SwitchboardErrorCode } from './errors.js';
export type {
  AdoptedEvent,
  Closable,
  CloseOptions,
  HubOptions,
  HubStats,
  Identity,
  LimitOptions,
  Logger,
  RejectEvent,
  RouteInfo,
  RouteOptions,
  SocketIOConnect,
  UpgradeContext,
  UpgradeHandler,
} from './hub/index.js';
export { Hub, Route } from './hub/index.js';
export type { DashboardOptions, DashboardState, MountedDashboard } from './operations/dashboard.js';
export type { NodeReport } from './operations/node-report.js';
export type { PresenceEvent, PresenceMember } from './presence/presence-store.js';
export { PRESENCE_EVENT } from './presence/wire.js';
export {
  type BroadcastResult,
  DISCONNECTED_CLOSE_CODE,
  DO_NOT_RECONNECT_CODES,
  PER_USER_LIMIT_CLOSE_CODE,
  PER_USER_LIMIT_CODE,
  type PublishData,
  REPLACED_CLOSE_CODE,
  REPLACED_EVENT,
  REPLACED_REASON,
  SLOW_CLOSE_CODE,
  type SlowConsumerPolicy,
  type Target,
  type TargetOptions,
  tenantRoom,
  userRoom,
} from './realtime/index.js';
export { Switchboard, type SwitchboardOptions, switchboard } from './switchboard.js';
