export { KafkaEventBus, type KafkaBusStats } from './kafka-event-bus.js';
export type { KafkaPartitionInfo, KafkaTopicInfo } from './adapter.js';
export {
  KAFKA_DEFAULTS,
  type KafkaAcks,
  type KafkaCompression,
  type KafkaEventBusConfig,
  type KafkaEventBusOptions,
  type KafkaSaslMechanism,
  type KafkaSaslOptions,
  type KafkaSslOptions,
} from './config.js';
export { topicNames, type KafkaTopics } from './topics.js';
