export {
  type Broker,
  type BrokerLink,
  type BrokerStats,
  type BrokerStatus,
  type BusMessage,
  fromWire,
  toWire,
  type UserRegistry,
  type WirePayload,
} from './broker.js';
export { memoryBroker } from './memory-broker.js';
export { MemoryUserRegistry } from './memory-users.js';
