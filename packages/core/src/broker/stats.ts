/** Counters every broker bus reports from getStats(); each transport's stats type extends it. */
export interface BusStats {
  /** Events the broker accepted from this bus's publish() calls. */
  readonly eventsPublished: number;
  /** publish() calls (background ones too) that rejected with PublishTimeoutError. */
  readonly publishTimeouts: number;
  /** Messages handed to this consumer: new, redelivered and retries. */
  readonly eventsConsumed: number;
  /** Messages whose handlers all succeeded (then settled). */
  readonly eventsProcessed: number;
  /** Messages whose handlers failed (then retried or dead-lettered). */
  readonly eventsFailed: number;
  /** Retry copies written by this consumer. */
  readonly eventsRetried: number;
  /** Messages this consumer wrote to the dead-letter destination. */
  readonly eventsDeadLettered: number;
  /** Messages of types no handler here subscribes to: settled, not handled. */
  readonly eventsSkipped: number;
  /** Messages settled without a dead letter because enableDlq is false. */
  readonly eventsDropped: number;
  /** Messages never started because this consumer lost its claim on them (fencing); the broker hands them out again. */
  readonly eventsFenced: number;
  /** Messages given back unstarted at a stop or shutdown deadline. */
  readonly eventsHandedBack: number;
  readonly handlersInvoked: number;
  /** Handler failures, timeouts included (one per failing handler per attempt). */
  readonly handlerErrors: number;
  /** Handlers that did not settle within handlerTimeoutMs. */
  readonly handlerTimeouts: number;
  /** Times a lost connection came back. */
  readonly reconnections: number;
  readonly backgroundTasksCreated: number;
  readonly backgroundTasksCompleted: number;
}

/** The counters the kit itself increments. */
export type KitCounters = {
  -readonly [K in Exclude<keyof BusStats, 'reconnections' | 'backgroundTasksCreated' | 'backgroundTasksCompleted'>]: number;
};

export function newKitCounters(): KitCounters {
  return {
    eventsPublished: 0,
    publishTimeouts: 0,
    eventsConsumed: 0,
    eventsProcessed: 0,
    eventsFailed: 0,
    eventsRetried: 0,
    eventsDeadLettered: 0,
    eventsSkipped: 0,
    eventsDropped: 0,
    eventsFenced: 0,
    eventsHandedBack: 0,
    handlersInvoked: 0,
    handlerErrors: 0,
    handlerTimeouts: 0,
  };
}
