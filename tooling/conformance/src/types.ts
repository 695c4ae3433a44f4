import type { BrokerEventBus, DeadLetterQueue, EventBus, Tracer } from '@eventsource/core';

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
  /**
   * `TestBus.broker` is the BrokerEventBus; `createBus({ connect: false })` returns it unconnected.
   * Calls before connect() fail with NotConnectedError; stopConsuming() then start() resumes. Default false.
   */
  brokerLifecycle?: boolean;
  /** The harness passes `TestBusOptions.tracer` to the bus: the consumer's dispatch span continues the publisher's trace. Default false. */
  traceContext?: boolean;
  /** shutdown(timeoutMs) returns by its deadline, drained: false, when a handler never finishes. Default false. */
  shutdownDeadline?: boolean;
  /** The harness passes `maxDeliveries`: a message whose consumers keep dying mid-handler is dead-lettered (`max_deliveries_exceeded`). Default false. */
  redeliveryLimit?: boolean;
  /** The harness passes `handlerTimeoutMs`: a handler that never settles counts as a failed attempt. Default false. */
  handlerTimeout?: boolean;
  /** The context can cut and restore the buses' broker connections (`cutConnection()` / `restoreConnection()`, e.g. through a TcpProxy). Default false. */
  outage?: boolean;
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
  brokerLifecycle: true,
  traceContext: true,
  shutdownDeadline: true,
  redeliveryLimit: true,
  handlerTimeout: true,
  outage: true,
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
  /** Time limit of one handler attempt, ms (the bus option `handlerTimeoutMs`). Default: none. */
  handlerTimeoutMs?: number;
  /** Starts without settlement before a message is dead-lettered as `max_deliveries_exceeded` (the bus option). Default: the bus's default. */
  maxDeliveries?: number;
  /** Handlers running at once in one consumer (the broker bus option). Default: the bus's default. */
  maxInFlight?: number;
  /** Longest wait of one publish() for the broker, ms (the broker bus option `publishTimeoutMs`). Default: the bus's default (30 s). */
  publishTimeoutMs?: number;
  /** Passed to the bus as `tracer` (with tracing enabled). */
  tracer?: Tracer;
  /** False: return the bus without calling connect() (brokerLifecycle). Default true. */
  connect?: boolean;
}

export interface TestBus {
  bus: EventBus;
  /** Begin consuming (no-op for in-memory). Resolves once the consumer is ready to receive. */
  start(): Promise<void>;
  /** Present when capabilities.dlqAdmin. */
  dlq?: DeadLetterQueue;
  /** Present when capabilities.redeliveryAfterCrash: simulate a crash — stop WITHOUT settling in-flight messages and without draining (like SIGKILL). */
  kill?(): Promise<void>;
  /** Present when capabilities.brokerLifecycle (or outage): the same bus, with connect / stopConsuming / health. */
  broker?: BrokerEventBus;
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
  /** Present when capabilities.outage: drop every broker connection of this context's buses and refuse new ones. */
  cutConnection?(): Promise<void>;
  /** Present when capabilities.outage: accept connections again. */
  restoreConnection?(): Promise<void>;
  /** Shut down every bus created by this context and delete its destinations. */
  cleanup(): Promise<void>;
}

export interface ConformanceHarness {
  /** e.g. 'in-memory', 'redis'. Names the results file the ledger reads (tooling/conformance/results/<name>.json). */
  name: string;
  /** The ledger column this harness reports to: 'in-memory', 'redis', 'rabbitmq', 'kafka'. Default: `name`. */
  transport?: string;
  capabilities: ConformanceCapabilities;
  /** Called once per scenario; the scenario always ends with `cleanup()`. */
  createContext(): Promise<ConformanceContext>;
  /** Upper bound for "eventually" waits, ms. Default 10000 (brokers may need more). */
  timeoutMs?: number;
}
