import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'test-brokers',
    include: ['test/**/*.test.ts'],
  },
});
