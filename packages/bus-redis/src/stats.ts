/** Counters of one RedisEventBus since it was created. */
export interface RedisEventBusStats {
  /** Events Redis accepted from this bus's publish() calls. */
  readonly eventsPublished: number;
  /** Entries handed to this consumer: new, reclaimed and retries. */
  readonly eventsConsumed: number;
  /** Entries whose handlers all succeeded (then acknowledged). */
  readonly eventsProcessed: number;
  /** Entries whose handlers failed (then scheduled for retry or dead-lettered). */
  readonly eventsFailed: number;
  /** Retries scheduled by this consumer. */
  readonly eventsRetried: number;
  /** Entries this consumer took over from a consumer that stopped working on them. */
  readonly eventsReclaimed: number;
  /** Entries this consumer wrote to the dead-letter stream. */
  readonly eventsDeadLettered: number;
  /** Entries of types no handler here subscribes to: acknowledged, not handled. */
  readonly eventsSkipped: number;
  /** Entries acknowledged without a dead letter because enableDlq is false. */
  readonly eventsDropped: number;
  /**
   * Entries trimmed from the stream before this group read them: lost for the group (raise
   * maxLen / maxAgeMs). Seen by this member's periodic check; several members may each count
   * the same gap.
   */
  readonly eventsTrimmedUnread: number;
  /** Entries this group read but that were trimmed from the stream before they were settled (reclaim found them gone). */
  readonly eventsTrimmedPending: number;
  readonly handlersInvoked: number;
  readonly handlerErrors: number;
  /** Times a lost connection came back. */
  readonly reconnections: number;
  readonly backgroundTasksCreated: number;
  readonly backgroundTasksCompleted: number;
}

export type MutableCounters = {
  -readonly [K in Exclude<keyof RedisEventBusStats, 'reconnections' | 'backgroundTasksCreated' | 'backgroundTasksCompleted'>]: number;
};

export function newCounters(): MutableCounters {
  return {
    eventsPublished: 0,
    eventsConsumed: 0,
    eventsProcessed: 0,
    eventsFailed: 0,
    eventsRetried: 0,
    eventsReclaimed: 0,
    eventsDeadLettered: 0,
    eventsSkipped: 0,
    eventsDropped: 0,
    eventsTrimmedUnread: 0,
    eventsTrimmedPending: 0,
    handlersInvoked: 0,
    handlerErrors: 0,
  };
}
