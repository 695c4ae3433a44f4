import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'bus-redis',
    include: ['test/**/*.test.ts'],
    // Integration tests share one Redis and start private redis-server processes.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
