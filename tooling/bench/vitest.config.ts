import { defineProject } from 'vitest/config';

// Only the harness's arithmetic is tested here; benchmark numbers are never asserted.
export default defineProject({
  test: {
    name: 'bench',
    include: ['test/**/*.test.ts'],
  },
});
