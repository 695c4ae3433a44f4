import type { Scenario } from '../harness/scenario.js';
import { inMemoryScenario } from './in-memory.js';
import { kafkaScenario } from './kafka.js';
import { otelScenario } from './otel.js';
import { rabbitmqScenario } from './rabbitmq.js';
import { redisScenario } from './redis.js';

/**
 * Every scenario, in the order `pnpm bench` runs them. Adding one: write
 * `src/scenarios/<name>.ts` exporting a `Scenario`, and add it to this list.
 */
export const scenarios: readonly Scenario[] = [inMemoryScenario, redisScenario, rabbitmqScenario, kafkaScenario, otelScenario];
