export { RedisEventBus, type RedisStreamInfo } from './redis-event-bus.js';
export { DEFAULTS, redisKeys, type RedisEventBusConfig, type RedisEventBusOptions, type RedisKeys, type ResolvedConfig } from './config.js';
export type { RedisEventBusStats } from './stats.js';
