export { PerUserConnections, type UserConnection } from './per-user.js';
export { Realtime } from './realtime.js';
export {
  PER_USER_LIMIT_CODE,
  perUserLimitReason,
  REPLACED_CLOSE_CODE,
  REPLACED_EVENT,
  REPLACED_REASON,
} from './reasons.js';
export { tenantRoom, userRoom } from './rooms.js';
export { roomTarget, type Target, type TargetOptions } from './targets.js';
