import { describe, expect, it } from 'vitest';
// The suite's event classes come from @eventsource/core (dist); importing the bus from the same
// copy keeps one registry and one DomainEvent class for instanceof.
import { InMemoryEventBus, silentLogger, type InMemoryEventBusOptions } from '@eventsource/core';
import { EVERY_CAPABILITY, scenarioCount, testEventBus, type ConformanceCapabilities, type ConformanceHarness, type TestBus } from '../src/index.js';

/**
 * What the in-memory bus promises. One process, no broker: no consumer groups, dead letters, raw
 * messages, connections or crashes to speak of; but a hung handler times out and a shutdown
 * deadline holds, as on every bus.
 */
const IN_MEMORY_CAPABILITIES: ConformanceCapabilities = {
  retries: false,
  retryDoesNotBlock: false,
  competingConsumers: false,
  fanOutAcrossGroups: false,
  redeliveryAfterCrash: false,
  dlqAdmin: false,
  rawInjection: false,
  orderedPerPublish: true,
  exactInMemoryStats: true,
  brokerLifecycle: false,
  traceContext: true,
  shutdownDeadline: true,
  redeliveryLimit: false,
  handlerTimeout: true,
  outage: false,
};

/**
 * Every createBus() call of one context returns the same bus: in-process, "the bus that publishes"
 * and "the bus that consumes" are one object. The first call's options configure it.
 */
function inMemoryHarness(name: string, busOptions: InMemoryEventBusOptions = {}): ConformanceHarness {
  return {
    name,
    transport: 'in-memory',
    capabilities: IN_MEMORY_CAPABILITIES,
    timeoutMs: 5_000,
    async createContext() {
      let shared: InMemoryEventBus | undefined;
      return {
        async createBus(options = {}): Promise<TestBus> {
          shared ??= new InMemoryEventBus({
            ...busOptions,
            logger: silentLogger,
            ...(options.maxBackgroundTasks === undefined ? {} : { maxBackgroundTasks: options.maxBackgroundTasks }),
            ...(options.handlerTimeoutMs === undefined ? {} : { handlerTimeoutMs: options.handlerTimeoutMs }),
            ...(options.tracer === undefined ? {} : { tracer: options.tracer, enableTracing: true }),
          });
          return { bus: shared, start: async () => {} };
        },
        async cleanup() {
          await shared?.shutdown(5_000);
        },
      };
    },
  };
}

testEventBus(inMemoryHarness('in-memory'));
// roundTrip sends every event through the wire codec, as a broker would: the same contract must hold.
testEventBus(inMemoryHarness('in-memory (roundTrip)', { roundTrip: true }));

describe('conformance coverage of the in-memory bus', () => {
  it('registers at least 30 scenarios, fewer than a transport with every capability', () => {
    expect(scenarioCount(IN_MEMORY_CAPABILITIES)).toBeGreaterThanOrEqual(30);
    expect(scenarioCount(EVERY_CAPABILITY)).toBeGreaterThan(scenarioCount(IN_MEMORY_CAPABILITIES));
  });
});
