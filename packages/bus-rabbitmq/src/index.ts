export { RabbitMQEventBus, type RabbitMQEventBusStats, type RabbitMQQueueInfo } from './rabbitmq-event-bus.js';
export {
  DEFAULTS,
  rabbitmqNames,
  type ExchangeType,
  type QueueType,
  type RabbitMQEventBusConfig,
  type RabbitMQEventBusOptions,
  type RabbitMQNames,
  type RabbitMQTlsOptions,
  type RoutingKeyInput,
} from './config.js';
export { retryBucketMs } from './topology.js';
