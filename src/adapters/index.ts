export { mountHandler } from './handler.js';
export { contextOf, mountWs, type WsRouteServerOptions } from './ws.js';
