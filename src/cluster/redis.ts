/** `switchboard/redis`: the broker for hubs in several processes. Needs `ioredis` (and, for Socket.IO, `@socket.io/redis-adapter`). */
export { type RedisBrokerOptions, redisBroker } from './redis-broker.js';
