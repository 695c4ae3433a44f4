import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';
import { brokersUsed, packageReadmes } from './src/readme-example.js';

// Only the brokers the current READMEs' examples use are probed, so a README that needs none
// (core's) never waits on, or fails for, a broker.
const packagesDir = fileURLToPath(new URL('../../packages', import.meta.url));
const brokers = [...new Set(packageReadmes(packagesDir).flatMap((readme) => (readme.code ? brokersUsed(readme.code) : [])))];

export default defineProject({
  test: {
    name: 'readme-examples',
    include: ['test/**/*.test.ts'],
    // Examples share the brokers (and a README may name fixed stream or queue names).
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // Probes those brokers once: one loud line when one is missing, or a failure under CI=true.
    globalSetup: ['@eventsource/test-brokers/global-setup'],
    provide: { eventsourceBrokers: brokers },
  },
});
