import { randomUUID } from 'node:crypto';
import type { BrokerEventBus, BusHealth, DeadLetterMessage, DeadLetterQueue, DomainEvent, EventBus } from '@eventsource/core';
import type { ConformanceCapabilities, ConformanceContext, RawMessage, TestBus, TestBusOptions } from './types.js';

export type CapabilityName = keyof ConformanceCapabilities;

/** What a scenario gets: a fresh context plus helpers bound to the harness's time budget. */
export interface ScenarioEnv {
  readonly harnessName: string;
  readonly capabilities: Readonly<Required<ConformanceCapabilities>>;
  readonly context: ConformanceContext;
  /** The harness's "eventually" budget, ms. */
  readonly timeoutMs: number;
  /** Polls `check` until it passes; default budget `timeoutMs`. */
  eventually<T>(check: () => T | Promise<T>, timeoutMs?: number): Promise<Exclude<T, false>>;
  /** Creates a bus, lets `setup` subscribe, then starts consuming. */
  startBus(setup?: (bus: EventBus) => void, options?: TestBusOptions): Promise<TestBus>;
  /** Runs before the context's cleanup, last registered first (e.g. opening gates of blocked handlers). */
  onCleanup(step: () => void | Promise<void>): void;
  /** A name no other scenario or run uses, for aggregate ids. */
  uniqueId(prefix: string): string;
}

export interface Scenario {
  /** The describe block it is listed under. */
  readonly area: string;
  readonly title: string;
  /** Registered only when every one of these capabilities is on. */
  readonly requires?: readonly CapabilityName[];
  /** Vitest timeout in multiples of the harness's timeoutMs. Default 2. */
  readonly budget?: number;
  run(env: ScenarioEnv): Promise<void>;
}

/** Collects what a handler receives. */
export class Recorder<E extends DomainEvent = DomainEvent> {
  readonly events: E[] = [];
  readonly handle = (event: E): void => {
    this.events.push(event);
  };

  get ids(): string[] {
    return this.events.map((event) => event.eventId);
  }

  distinct(): Set<string> {
    return new Set(this.ids);
  }

  count(eventId: string): number {
    let n = 0;
    for (const event of this.events) if (event.eventId === eventId) n++;
    return n;
  }
}

export function requireDlq(testBus: TestBus): DeadLetterQueue {
  if (!testBus.dlq) throw new Error('The harness declares dlqAdmin but createBus() returned a TestBus without `dlq`.');
  return testBus.dlq;
}

export function requireInjectRaw(context: ConformanceContext): (message: RawMessage) => Promise<void> {
  const inject = context.injectRaw;
  if (!inject) throw new Error('The harness declares rawInjection but its context has no injectRaw().');
  return (message) => inject.call(context, message);
}

export function requireKill(testBus: TestBus): () => Promise<void> {
  const kill = testBus.kill;
  if (!kill) throw new Error('The harness declares redeliveryAfterCrash but createBus() returned a TestBus without kill().');
  return () => kill.call(testBus);
}

export function requireBroker(testBus: TestBus): BrokerEventBus {
  if (!testBus.broker) throw new Error('The harness declares brokerLifecycle (or outage) but createBus() returned a TestBus without `broker`.');
  return testBus.broker;
}

export function requireOutage(context: ConformanceContext): { cut(): Promise<void>; restore(): Promise<void> } {
  const { cutConnection, restoreConnection } = context;
  if (!cutConnection || !restoreConnection) {
    throw new Error('The harness declares outage but its context lacks cutConnection() / restoreConnection().');
  }
  return { cut: () => cutConnection.call(context), restore: () => restoreConnection.call(context) };
}

// Fields core is gaining (issues 6 and 8); read through these until every transport has them,
// so the suite compiles against the core it runs with.
/** `BusHealth.stuckHandlers`: handlers running past their handlerTimeoutMs. */
export function stuckHandlersOf(health: BusHealth): number | undefined {
  return (health as BusHealth & { readonly stuckHandlers?: number }).stuckHandlers;
}

/** `DeadLetterMessage.rawBody`: the body exactly as it arrived, byte for byte. */
export function rawBodyOf(letter: DeadLetterMessage): Uint8Array | undefined {
  return (letter as DeadLetterMessage & { readonly rawBody?: Uint8Array }).rawBody;
}

/** Calls `fn` and returns what it threw or rejected with (a sync throw counts: `await` treats both alike). */
export async function failureOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw or reject, but it succeeded');
}

export function newUniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
