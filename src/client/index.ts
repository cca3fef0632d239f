export {
  type BackoffOptions,
  backoffCeiling,
  backoffDelay,
  DEFAULT_BASE_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
} from './backoff.js';
export { type Outgoing, SharedConnection } from './base-connection.js';
export {
  ABNORMAL_CLOSE_CODE,
  Connection,
  DEFAULT_STOP_CODES,
  DISCONNECTED_CLOSE_CODE,
  PER_USER_LIMIT_CLOSE_CODE,
  REPLACED_CLOSE_CODE,
} from './connection.js';
export { CrossTabConnection } from './cross-tab-connection.js';
export { ClientError, type ClientErrorCode } from './errors.js';
export type {
  CloseInfo,
  ConnectOptions,
  HeartbeatOptions,
  ReconnectOptions,
  Resolvable,
  ShareAcrossTabsOptions,
  UrlInput,
} from './options.js';
export {
  type GapInfo,
  type GapReason,
  MAX_RESUME_CHARS,
  type PresenceInfo,
  RESUME_PARAM,
  type RoomMessage,
} from './recovery-protocol.js';
export { connect, openConnections } from './registry.js';
export { DEFAULT_REQUEST_TIMEOUT_MS, type RequestOptions } from './requests.js';
export { DEFAULT_QUEUE_MAX, type OverflowPolicy, type QueueOptions } from './send-queue.js';
export type { ConnectionState, ConnectionStatus, StateListener } from './state.js';
export {
  decodeEvent,
  type EventHandler,
  type EventMessage,
  encodeEvent,
  type MessageData,
  type MessageHandler,
} from './subscribers.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket-constructor.js';
