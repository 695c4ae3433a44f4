import type { DeadLetterQueue, EventBus } from '@eventsource/core';

/**
 * What a transport can honestly do. A scenario whose capability is off is not registered at all
 * (never skipped), so a transport's test report only lists what it actually promises.
 */
export interface ConformanceCapabilities {
  /** Bounded retry (maxRetries, backoff) then dead letter with metadata. */
  retries: boolean;
  /** A message waiting for its retry does not hold up other messages. */
  retryDoesNotBlock: boolean;
  /** Several buses in one consumer group share the messages (each handled by one member). */
  competingConsumers: boolean;
  /** Buses in different consumer groups each get every message. */
  fanOutAcrossGroups: boolean;
  /** A consumer that dies mid-handler leaves the message to be redelivered to another member. */
  redeliveryAfterCrash: boolean;
  /** getDlqMessages / getDlqMessageCount / replayDlqMessage / replayAllDlqMessages / purgeDlq. */
  dlqAdmin: boolean;
  /** The harness can write raw (possibly malformed) messages straight to the broker. */
  rawInjection: boolean;
  /** Events of one publish call are handled in list order, each event's handlers finishing before the next starts. Default false. */
  orderedPerPublish?: boolean;
  /** getStats() returns exactly the five in-memory counters, updated by the time publish() resolves. Default false. */
  exactInMemoryStats?: boolean;
}

/** Every capability switched on: the most scenarios the suite can register. */
export const EVERY_CAPABILITY: Readonly<Required<ConformanceCapabilities>> = Object.freeze({
  retries: true,
  retryDoesNotBlock: true,
  competingConsumers: true,
  fanOutAcrossGroups: true,
  redeliveryAfterCrash: true,
  dlqAdmin: true,
  rawInjection: true,
  orderedPerPublish: true,
  exactInMemoryStats: true,
});

export interface TestBusOptions {
  /** Consumer group; buses created with the same group in one context compete. Default 'conformance'. */
  group?: string;
  /** Handler retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** Delay before the first retry, ms. Default small, e.g. 50. */
  retryBaseDelayMs?: number;
  consumerName?: string;
  /** Cap on background publishes in flight (the bus option of the same name). Default: the bus's default. */
  maxBackgroundTasks?: number;
  /** Largest message body the consumer accepts (the codec's maxBodyBytes). Default: the codec's default (1 MiB). */
  maxBodyBytes?: number;
}

export interface TestBus {
  bus: EventBus;
  /** Begin consuming (no-op for in-memory). Resolves once the consumer is ready to receive. */
  start(): Promise<void>;
  /** Present when capabilities.dlqAdmin. */
  dlq?: DeadLetterQueue;
  /** Present when capabilities.redeliveryAfterCrash: simulate a crash — stop WITHOUT settling in-flight messages and without draining (like SIGKILL). */
  kill?(): Promise<void>;
}

export interface RawMessage {
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export interface ConformanceContext {
  /** Each context uses fresh, unique destinations (stream/queue/topic names), so tests never see each other's messages. */
  createBus(options?: TestBusOptions): Promise<TestBus>;
  /** Present when capabilities.rawInjection: write a raw message to the destination the buses consume. */
  injectRaw?(message: RawMessage): Promise<void>;
  /** Shut down every bus created by this context and delete its destinations. */
  cleanup(): Promise<void>;
}

export interface ConformanceHarness {
  /** e.g. 'in-memory', 'redis'. */
  name: string;
  capabilities: ConformanceCapabilities;
  /** Called once per scenario; the scenario always ends with `cleanup()`. */
  createContext(): Promise<ConformanceContext>;
  /** Upper bound for "eventually" waits, ms. Default 10000 (brokers may need more). */
  timeoutMs?: number;
}
