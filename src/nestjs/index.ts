export { SwitchboardAdapter, type SwitchboardAdapterOptions, type SwitchboardGatewayOptions } from './adapter.js';
export { type GatewayKind, gatewayKind } from './gateway-kind.js';
export { jsonMessageParser, type WsFrame, type WsMessageParser } from './ws-messages.js';
