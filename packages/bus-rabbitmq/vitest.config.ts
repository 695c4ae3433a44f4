import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'bus-rabbitmq',
    include: ['test/**/*.test.ts'],
    // Integration tests share one RabbitMQ and start a private rabbitmq-server node.
    fileParallelism: false,
    testTimeout: 60_000,
    // Probes RabbitMQ once up front: one loud line when it is missing, or a failure under CI=true.
    globalSetup: ['@eventsource/test-brokers/global-setup'],
    provide: { eventsourceBrokers: ['rabbitmq'] },
    hookTimeout: 60_000,
  },
});
