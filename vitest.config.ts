import { defineConfig } from 'vitest/config';

// One run over every package. Each package keeps its own vitest.config.ts (defineProject).
export default defineConfig({
  test: {
    projects: ['packages/*', 'tooling/*', 'examples/*'],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      reporter: ['text-summary', 'text', 'json-summary'],
      thresholds: {
        'packages/core/src/**': { lines: 90 },
      },
    },
  },
});
