import type { BusStats } from '@eventsource/core';

/** Counters of one RedisEventBus since it was created: the kit's, plus what only Redis has. */
export interface RedisEventBusStats extends BusStats {
  /** Entries this consumer took over from a consumer that stopped working on them. */
  readonly eventsReclaimed: number;
  /**
   * Entries trimmed from the stream before this group read them: lost for the group (raise
   * maxLen / maxAgeMs). Seen by this member's periodic check; several members may each count
   * the same gap.
   */
  readonly eventsTrimmedUnread: number;
  /**
   * Entries this group read but that were trimmed from the stream before they were settled, as
   * found by this member's reclaim (or its own restart). Counts the entry's settlement as unknown,
   * not necessarily lost: a member that stalled past reclaimIdleMs may still have finished it.
   */
  readonly eventsTrimmedPending: number;
  /**
   * Scheduled retries and replayed dead letters found without their stored entry when they came
   * due: lost for this group. Redis evicted keys (its maxmemory-policy is not `noeviction`) or
   * someone deleted them. Each one is also logged as an error.
   */
  readonly eventsMissingData: number;
}

export type RedisCounters = { -readonly [K in 'eventsReclaimed' | 'eventsTrimmedUnread' | 'eventsTrimmedPending' | 'eventsMissingData']: number };

export function newRedisCounters(): RedisCounters {
  return { eventsReclaimed: 0, eventsTrimmedUnread: 0, eventsTrimmedPending: 0, eventsMissingData: 0 };
}
