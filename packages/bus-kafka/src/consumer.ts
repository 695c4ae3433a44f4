import type { KafkaConsumer, Message, TopicPartition, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import type { Logger } from '@eventsource/core';
import { Backoff, errorMessage, redact, sleep, type DeliverySink, type ResolvedBrokerOptions } from '@eventsource/core/transport';
import type { ResolvedKafkaConfig } from './config.js';
import { connectClient, consumerProperties, disconnectClient, type ConnectionTracker } from './connection.js';
import { KAFKA_HEADER, type KafkaDelivery } from './delivery.js';
import { CODES, isNativeError, kafka } from './native.js';
import { fromKafkaHeaders } from './publisher.js';
import { Assignments, PAUSE, type PartitionState } from './rebalance.js';

/** The parts of the native consumer the bus uses that its typings leave out. */
interface NativeConsumer extends KafkaConsumer {
  commitCb(toppars: TopicPartitionOffset[], cb: (error: unknown) => void): this;
  incrementalAssign(assignments: TopicPartition[]): this;
  incrementalUnassign(assignments: TopicPartition[]): this;
  rebalanceProtocol(): string;
  assignmentLost(): boolean;
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
}

/** How long one poll waits for the first record, ms: also how fast stop and resume react. */
const POLL_TIMEOUT_MS = 100;
const CONNECT_TIMEOUT_MS = 10_000;
/** Longest a revoke waits for running handlers of the revoked partitions, so their offsets are committed. */
const REVOKE_GRACE_MS = 2000;

export interface SourceContext {
  readonly config: ResolvedKafkaConfig;
  readonly options: ResolvedBrokerOptions;
  readonly logger: Logger;
  readonly tracker: ConnectionTracker;
  readonly onRebalance: (kind: 'assign' | 'revoke' | 'lost', partitions: number) => void;
}

/**
 * The group consumer: polls the main topic and the group's retry topic, pushes records to the
 * kit, pauses partitions that must wait (queue full, a busy partition, a retry not yet due) while
 * it keeps polling, so the group never sees it as stalled, however long a handler runs.
 */
export class KafkaSource {
  readonly #ctx: SourceContext;
  readonly assignments: Assignments;
  #consumer: NativeConsumer | undefined;
  #sink: DeliverySink<KafkaDelivery> | undefined;
  #stopRequested = false;
  #closing = false;
  /** Rebalance callbacks run one after the other. */
  #rebalancing: Promise<void> = Promise.resolve();
  /** Partitions above this many fetched, uncommitted records are paused until they catch up. */
  readonly #busyLimit: number;

  constructor(ctx: SourceContext) {
    this.#ctx = ctx;
    this.assignments = new Assignments(ctx.config.topics.retry);
    this.#busyLimit = Math.max(ctx.config.batchSize * 2, ctx.options.maxInFlight * 4);
  }

  get connected(): boolean {
    return this.#consumer?.isConnected() ?? false;
  }

  /** Runs until stop(); resolves once what it fetched is settled and committed, and it left the group. */
  async run(sink: DeliverySink<KafkaDelivery>): Promise<void> {
    this.#sink = sink;
    this.#stopRequested = false;
    this.#closing = false;
    const consumer = await this.#connect(sink);
    if (!consumer) return;
    try {
      await this.#poll(consumer, sink);
      await this.#drain(consumer, sink);
    } finally {
      await this.#leave(consumer);
    }
  }

  /** Stops fetching; run() resolves once fetched work is settled. */
  stop(): void {
    this.#stopRequested = true;
  }

  /** Stops at once: run() leaves the group without waiting for running handlers. */
  async close(deadline: number): Promise<void> {
    this.#stopRequested = true;
    this.#closing = true;
    const consumer = this.#consumer;
    if (consumer) await disconnectClient(consumer, deadline);
  }

  /**
   * Commits, per lane, the next offset to read. Lanes of partitions given up are skipped:
   * committing for a partition another member now reads could move its commit point under it.
   */
  commit(offsets: ReadonlyMap<string, number>): Promise<void> {
    const consumer = this.#consumer;
    const toppars: TopicPartitionOffset[] = [];
    const states: Array<[PartitionState, number]> = [];
    for (const [lane, offset] of offsets) {
      const state = this.assignments.byLane(lane);
      if (!state || (state.committedNext !== undefined && state.committedNext >= offset)) continue;
      toppars.push({ topic: state.topic, partition: state.partition, offset });
      states.push([state, offset]);
    }
    if (toppars.length === 0 || !consumer) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      consumer.commitCb(toppars, (error) => {
        if (error) return reject(error as Error);
        for (const [state, offset] of states) state.committedNext = Math.max(state.committedNext ?? 0, offset);
        resolve();
      });
    });
  }

  /** Per assigned main-topic partition: records not yet committed by the group (cached high watermark). */
  lag(): Array<{ readonly topic: string; readonly partition: number; readonly lag: number }> {
    const consumer = this.#consumer;
    if (!consumer?.isConnected()) return [];
    const out: Array<{ topic: string; partition: number; lag: number }> = [];
    for (const state of this.assignments.all()) {
      if (state.isRetry) continue;
      let high: number;
      try {
        high = consumer.getWatermarkOffsets(state.topic, state.partition).highOffset;
      } catch {
        continue; // nothing fetched yet: no cached watermark
      }
      const base = state.committedNext ?? state.firstFetched;
      if (high >= 0 && base !== undefined) out.push({ topic: state.topic, partition: state.partition, lag: Math.max(0, high - base) });
    }
    return out;
  }

  get pausedPartitions(): number {
    let n = 0;
    for (const state of this.assignments.all()) if (state.paused) n++;
    return n;
  }

  // ── setup ──────────────────────────────────────────────────────────────────

  async #connect(sink: DeliverySink<KafkaDelivery>): Promise<NativeConsumer | undefined> {
    const { config, options, tracker } = this.#ctx;
    const backoff = new Backoff(options.reconnectBaseDelayMs, options.reconnectMaxDelayMs);
    for (let failures = 1; ; failures++) {
      if (this.#stopRequested || sink.stopping) return undefined;
      // The rebalance callback only runs once the consumer is connected, so it is assigned by then.
      const created: { consumer?: NativeConsumer } = {};
      const consumer = new kafka.KafkaConsumer(
        consumerProperties(config, (error, assignment) => {
          if (created.consumer) this.#onRebalance(created.consumer, error, assignment as TopicPartition[]);
        }) as never,
      ) as NativeConsumer;
      created.consumer = consumer;
      consumer.on('event.error', (error) => tracker.onError(error));
      try {
        await connectClient(consumer, CONNECT_TIMEOUT_MS);
        consumer.setDefaultConsumeTimeout(POLL_TIMEOUT_MS);
        consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
        consumer.subscribe([config.topics.main, config.topics.retry]);
        this.#consumer = consumer;
        return consumer;
      } catch (error) {
        await disconnectClient(consumer, Date.now() + 1000);
        const message = redact(errorMessage(error));
        sink.problem(`cannot join consumer group ${config.consumerGroup}: ${message}`);
        tracker.lost(message);
        if (failures === 1 || failures % 20 === 0) this.#ctx.logger.warn('Kafka consumer could not connect; trying again', { error: message, attempt: failures });
        await sleep(backoff.delay(failures));
      }
    }
  }

  // ── the poll loop ──────────────────────────────────────────────────────────

  async #poll(consumer: NativeConsumer, sink: DeliverySink<KafkaDelivery>): Promise<void> {
    const { config, tracker } = this.#ctx;
    const backoff = new Backoff(this.#ctx.options.reconnectBaseDelayMs, this.#ctx.options.reconnectMaxDelayMs);
    let started = false;
    let failures = 0;
    while (!this.#stopRequested && !sink.stopping) {
      this.#adjustPauses(consumer, sink.hasSpace);
      let messages: Message[];
      try {
        messages = await consumeBatch(consumer, config.batchSize);
        failures = 0;
      } catch (error) {
        if (this.#closing) return;
        failures++;
        tracker.onError(error);
        sink.problem(`polling ${config.topics.main} failed: ${redact(errorMessage(error))}`);
        await sleep(backoff.delay(failures));
        continue;
      }
      if (!started) {
        started = true;
        sink.started();
      }
      for (const message of messages) this.#route(message, sink);
    }
  }

  #route(message: Message, sink: DeliverySink<KafkaDelivery>): void {
    const state = this.assignments.get(message.topic, message.partition);
    // A record of a partition revoked since it was fetched: its next owner reads it.
    if (!state || state.claim.lost) return;
    state.firstFetched ??= message.offset;
    state.fetchedNext = message.offset + 1;
    const headers = fromKafkaHeaders(message.headers);
    const dueAt = state.isRetry ? Number(headers[KAFKA_HEADER.retryDueAt] ?? 0) || 0 : 0;
    const key = message.key === undefined || message.key === null ? null : message.key.toString();
    const delivery: KafkaDelivery = {
      id: `${message.topic}/${message.partition}/${message.offset}`,
      envelope: { headers, body: message.value ?? Buffer.alloc(0) },
      deliveryCount: 0,
      suspect: false,
      claim: state.claim,
      position: { lane: state.lane, offset: message.offset },
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key,
      value: message.value,
      dueAt,
      state,
    };
    if (state.isRetry && (state.held.length > 0 || dueAt > Date.now())) {
      state.held.push(delivery);
      state.pauseReasons |= PAUSE.notDue;
      this.#scheduleHeld(state, sink);
      return;
    }
    sink.push(delivery);
  }

  /** Retry topic: hands held records to the kit as they come due, in offset order. */
  #scheduleHeld(state: PartitionState, sink: DeliverySink<KafkaDelivery>): void {
    if (state.heldTimer || state.held.length === 0) return;
    const wait = Math.max(0, state.held[0]!.dueAt - Date.now());
    state.heldTimer = setTimeout(() => {
      state.heldTimer = undefined;
      if (state.claim.lost) return;
      const now = Date.now();
      while (state.held.length > 0 && state.held[0]!.dueAt <= now) sink.push(state.held.shift()!);
      if (state.held.length === 0) state.pauseReasons &= ~PAUSE.notDue;
      else this.#scheduleHeld(state, sink);
    }, wait);
    state.heldTimer.unref();
  }

  /** Pauses and resumes partitions so the client's state matches each partition's reasons. */
  #adjustPauses(consumer: NativeConsumer, hasSpace: boolean): void {
    const pause: TopicPartition[] = [];
    const resume: TopicPartition[] = [];
    for (const state of this.assignments.all()) {
      let reasons = state.pauseReasons & PAUSE.notDue;
      if (!hasSpace) reasons |= PAUSE.full;
      if (state.uncommitted > this.#busyLimit) reasons |= PAUSE.busy;
      state.pauseReasons = reasons;
      const shouldPause = reasons !== 0;
      if (shouldPause === state.paused) continue;
      (shouldPause ? pause : resume).push({ topic: state.topic, partition: state.partition });
      state.paused = shouldPause;
    }
    try {
      if (pause.length > 0) consumer.pause(pause);
      if (resume.length > 0) consumer.resume(resume);
    } catch (error) {
      this.#ctx.logger.warn('Could not pause or resume partitions', { error: redact(errorMessage(error)) });
    }
  }

  // ── stopping ───────────────────────────────────────────────────────────────

  /**
   * Stopped fetching: keeps polling (everything paused, so the group sees a live member) while the
   * kit runs and settles what was fetched, then commits it, before the partitions are given up.
   * Queued records are not fenced here: one fenced below records already handled would hold the
   * commit point and have them all handled again by the next owner. At the caller's deadline the
   * kit takes back whatever never started.
   */
  async #drain(consumer: NativeConsumer, sink: DeliverySink<KafkaDelivery>): Promise<void> {
    // Retry records not due yet stay uncommitted: whoever reads the partition next holds them.
    for (const state of this.assignments.all()) state.dropHeld();
    this.#pauseAll(consumer);
    while (!this.#closing && (sink.queued > 0 || !isEmpty(sink.inProgress()))) {
      try {
        await consumeBatch(consumer, 1);
      } catch {
        await sleep(POLL_TIMEOUT_MS);
      }
    }
    await sink.flushSettlements();
  }

  #pauseAll(consumer: NativeConsumer): void {
    const all = [...this.assignments.all()].filter((s) => !s.paused);
    for (const state of all) state.paused = true;
    try {
      if (all.length > 0) consumer.pause(all.map((s) => ({ topic: s.topic, partition: s.partition })));
    } catch {
      // disconnected: nothing to pause
    }
  }

  async #leave(consumer: NativeConsumer): Promise<void> {
    if (!this.#closing && consumer.isConnected()) {
      try {
        consumer.unsubscribe();
      } catch {
        // already gone
      }
      await Promise.race([this.#rebalancing, sleep(2000)]);
    }
    this.assignments.clear('consumer closed');
    await disconnectClient(consumer, Date.now() + 5000);
    if (this.#consumer === consumer) this.#consumer = undefined;
  }

  // ── rebalances ─────────────────────────────────────────────────────────────

  #onRebalance(consumer: NativeConsumer, error: unknown, partitions: TopicPartition[]): void {
    const code = isNativeError(error) ? error.code : typeof error === 'number' ? error : undefined;
    this.#rebalancing = this.#rebalancing.then(() =>
      (code === CODES.assign ? this.#assign(consumer, partitions) : this.#revoke(consumer, partitions)).catch((e: unknown) =>
        this.#ctx.logger.error('Rebalance handling failed', { error: redact(errorMessage(e)) }),
      ),
    );
  }

  async #assign(consumer: NativeConsumer, partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) {
      // A partition assigned again without a revoke in between (should not happen): what the old
      // state fetched is fetched again, so its lane starts over.
      const { replaced } = this.assignments.add(tp.topic, tp.partition);
      if (replaced) {
        this.#sink?.fence(replaced.claim);
        this.#sink?.forgetLane(replaced.lane);
      }
    }
    this.assignments.rebalances++;
    this.#ctx.onRebalance('assign', partitions.length);
    if (consumer.rebalanceProtocol() === 'COOPERATIVE') consumer.incrementalAssign(partitions);
    else consumer.assign(partitions);
  }

  /**
   * Revoked: queued records of those partitions are fenced at once (never started), running ones
   * get up to REVOKE_GRACE_MS to finish, what is settled is committed while the partitions are
   * still ours, and their lanes are forgotten; then the partitions are given up. A handler still
   * running after that settles into no lane: its record is read again by the next owner.
   */
  async #revoke(consumer: NativeConsumer, partitions: TopicPartition[]): Promise<void> {
    const lost = safe(() => consumer.assignmentLost(), false);
    const states = partitions.map((tp) => this.assignments.get(tp.topic, tp.partition)).filter((s): s is PartitionState => s !== undefined);
    this.assignments.rebalances++;
    this.#ctx.onRebalance(lost ? 'lost' : 'revoke', partitions.length);
    const sink = this.#sink;
    const claims = new Set(states.map((s) => s.claim));
    for (const state of states) {
      state.claim.revoke(lost ? 'partition lost (session timed out)' : 'partition revoked by a rebalance');
      sink?.fence(state.claim);
    }
    if (!lost && sink && !this.#closing) {
      // Short: the whole group waits for this callback. A handler still running after it is
      // redelivered to the partition's next owner (at-least-once), never lost.
      const deadline = Date.now() + Math.min(this.#ctx.config.maxPollIntervalMs / 2, REVOKE_GRACE_MS);
      while (Date.now() < deadline && !this.#closing && someHeld(sink.inProgress(), claims)) await sleep(10);
      // Settled offsets of these lanes are committed while the lanes still count as ours. Bounded:
      // with the broker away the commit retries with backoff, and the group waits for this callback.
      await within(sink.flushSettlements(), REVOKE_GRACE_MS);
    }
    for (const state of states) {
      this.assignments.remove(state, 'revoked');
      sink?.forgetLane(state.lane);
    }
    safe(() => {
      if (consumer.rebalanceProtocol() === 'COOPERATIVE') consumer.incrementalUnassign(partitions);
      else consumer.unassign();
    }, undefined);
  }

}

function consumeBatch(consumer: KafkaConsumer, count: number): Promise<Message[]> {
  return new Promise((resolve, reject) => consumer.consume(count, (error, messages) => (error ? reject(error) : resolve(messages))));
}

function isEmpty(iterator: IterableIterator<unknown>): boolean {
  return iterator.next().done === true;
}

function someHeld(deliveries: IterableIterator<KafkaDelivery>, claims: ReadonlySet<unknown>): boolean {
  for (const delivery of deliveries) if (claims.has(delivery.claim)) return true;
  return false;
}

/** Waits for `work`, at most `ms`; the timer does not outlive it. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  const timeout = new AbortController();
  try {
    await Promise.race([work, sleep(ms, timeout.signal)]);
  } finally {
    timeout.abort();
  }
}

function safe<T>(run: () => T, fallback: T): T {
  try {
    return run();
  } catch {
    return fallback;
  }
}
