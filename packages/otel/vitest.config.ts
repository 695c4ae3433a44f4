import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'otel',
    include: ['test/**/*.test.ts'],
    // The OpenTelemetry API keeps one global propagator and context manager per process.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Probes Redis once up front: one loud line when it is missing, or a failure under CI=true.
    globalSetup: ['@eventsource/test-brokers/global-setup'],
    provide: { eventsourceBrokers: ['redis'] },
  },
});
