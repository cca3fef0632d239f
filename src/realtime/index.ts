export {
  type BroadcastResult,
  broadcast,
  DEFAULT_SLOW_CONSUMER_POLICY,
  SLOW_CLOSE_CODE,
  type SlowConsumerPolicy,
} from './broadcast.js';
export { type PublishData, Realtime, type RealtimeOptions } from './realtime.js';
export {
  DISCONNECTED_CLOSE_CODE,
  DO_NOT_RECONNECT_CODES,
  PER_USER_LIMIT_CLOSE_CODE,
  PER_USER_LIMIT_CODE,
  perUserLimitReason,
  REPLACED_CLOSE_CODE,
  REPLACED_EVENT,
  REPLACED_REASON,
} from './reasons.js';
export { tenantRoom, userRoom } from './rooms.js';
export { selectNamespaces, type Target, type TargetOptions } from './targets.js';
export { WsRooms } from './ws-rooms.js';
