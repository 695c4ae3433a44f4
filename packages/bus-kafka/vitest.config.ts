import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'bus-kafka',
    include: ['test/**/*.test.ts'],
    // Integration tests share one Redis and start private redis-server processes.
    fileParallelism: false,
    testTimeout: 60_000,
    // Probes Redis once up front: one loud line when it is missing, or a failure under CI=true.
    globalSetup: ['@eventsource/test-brokers/global-setup'],
    provide: { eventsourceBrokers: ["kafka"] },
    hookTimeout: 60_000,
  },
});
