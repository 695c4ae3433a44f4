import { describe, expect, it } from 'vitest';
import {
  EVERY_CAPABILITY,
  scenarioCount,
  testEventBus,
  type ConformanceCapabilities,
  type ConformanceHarness,
  type TestBus,
} from '@eventsource/conformance';
// The suite's event classes come from @eventsource/core (dist); importing the bus from the same
// copy keeps one registry and one DomainEvent class for instanceof.
import { InMemoryEventBus, silentLogger, type InMemoryEventBusOptions } from '@eventsource/core';

// One process, no broker: there are no consumer groups, dead letters or raw messages to speak of.
const capabilities: ConformanceCapabilities = {
  retries: false,
  retryDoesNotBlock: false,
  competingConsumers: false,
  fanOutAcrossGroups: false,
  redeliveryAfterCrash: false,
  dlqAdmin: false,
  rawInjection: false,
  orderedPerPublish: true,
  exactInMemoryStats: true,
};

/**
 * Every createBus() call of one context returns the same bus: in-process, "the bus that publishes"
 * and "the bus that consumes" are one object. The first call's options configure it.
 */
function inMemoryHarness(name: string, busOptions: InMemoryEventBusOptions = {}): ConformanceHarness {
  return {
    name,
    capabilities,
    timeoutMs: 5_000,
    async createContext() {
      let shared: InMemoryEventBus | undefined;
      return {
        async createBus(options): Promise<TestBus> {
          shared ??= new InMemoryEventBus({
            ...busOptions,
            logger: silentLogger,
            ...(options?.maxBackgroundTasks === undefined ? {} : { maxBackgroundTasks: options.maxBackgroundTasks }),
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
  it('registers at least 25 scenarios, fewer than a transport with every capability', () => {
    const all = EVERY_CAPABILITY;
    expect(scenarioCount(capabilities)).toBeGreaterThanOrEqual(25);
    expect(scenarioCount(all)).toBeGreaterThan(scenarioCount(capabilities));
  });
});
