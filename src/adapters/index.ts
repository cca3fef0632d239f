export { optionalRequire } from '../optional-require.js';
export { mountHandler } from './handler.js';
export { mountStandIn, ServerStandIn } from './server-stand-in.js';
export { mountSocketIO, type NamespaceGate, namespacesOf } from './socketio.js';
export { contextOf, mountWs, type WsRouteServerOptions } from './ws.js';
