import { Claim } from '@eventsource/core/transport';
import type { KafkaDelivery } from './delivery.js';

/** Why a partition is paused; it is paused while any reason holds. */
export const PAUSE = {
  /** The kit's queue is full: every partition waits. */
  full: 1,
  /** This partition has too many fetched, uncommitted messages (a slow key holds it). */
  busy: 2,
  /** Retry topic: the head record is not due yet. */
  notDue: 4,
} as const;

/**
 * One partition as this consumer holds it, for one assignment. Its lane is the partition
 * (`topic/partition`); a revoke settles and forgets the lane before the partition is given up,
 * so a later assignment of the same partition starts a fresh lane.
 */
export class PartitionState {
  /** `topic/partition`: the lane of the kit's offset ledger, and the key of the assignment. */
  readonly lane: string;
  readonly claim: Claim;
  /** Offset after the last record fetched; undefined before the first. */
  fetchedNext: number | undefined;
  /** Offset after the first fetched record, before any commit: where the uncommitted run starts. */
  firstFetched: number | undefined;
  /** Next offset committed by this assignment. */
  committedNext: number | undefined;
  /** Bit set of PAUSE reasons, and whether the client has it paused now. */
  pauseReasons = 0;
  paused = false;
  /** Retry topic: fetched records waiting for their due time, in offset order. */
  readonly held: KafkaDelivery[] = [];
  heldTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    generation: number,
    readonly isRetry: boolean,
  ) {
    this.lane = `${topic}/${partition}`;
    this.claim = new Claim(`${this.lane} (assignment ${generation})`);
  }

  /** Fetched and not yet committed. */
  get uncommitted(): number {
    if (this.fetchedNext === undefined) return 0;
    return this.fetchedNext - (this.committedNext ?? this.firstFetched ?? this.fetchedNext);
  }

  release(reason: string): void {
    this.claim.revoke(reason);
    this.dropHeld();
  }

  /** Forgets retry records waiting for their due time (they stay uncommitted, so they are read again). */
  dropHeld(): void {
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.held.length = 0;
  }
}

/** The partitions this consumer holds now, by lane (`topic/partition`). */
export class Assignments {
  readonly #byLane = new Map<string, PartitionState>();
  /** Numbers assignments, so a claim's name tells them apart in logs. */
  #generation = 0;
  /** Rebalance callbacks seen (assign and revoke). */
  rebalances = 0;

  constructor(private readonly retryTopic: string) {}

  /** Takes a partition; a state still held for it (a revoke that never came) is released first. */
  add(topic: string, partition: number): { state: PartitionState; replaced: PartitionState | undefined } {
    const state = new PartitionState(topic, partition, ++this.#generation, topic === this.retryTopic);
    const replaced = this.#byLane.get(state.lane);
    if (replaced) this.remove(replaced, 'assigned again');
    this.#byLane.set(state.lane, state);
    return { state, replaced };
  }

  remove(state: PartitionState, reason: string): void {
    state.release(reason);
    if (this.#byLane.get(state.lane) === state) this.#byLane.delete(state.lane);
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.#byLane.get(`${topic}/${partition}`);
  }

  byLane(lane: string): PartitionState | undefined {
    return this.#byLane.get(lane);
  }

  all(): IterableIterator<PartitionState> {
    return this.#byLane.values();
  }

  get size(): number {
    return this.#byLane.size;
  }

  clear(reason: string): PartitionState[] {
    const all = [...this.#byLane.values()];
    for (const state of all) this.remove(state, reason);
    return all;
  }
}
