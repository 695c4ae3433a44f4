import type { Logger } from '@eventsource/core';
import {
  errorMessage,
  errorName,
  readFailureHistory,
  type DeadLetterDetails,
  type MessageProcessor,
  type ProcessOutcome,
} from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Connections } from './connection.js';
import { decodeRetryPayload, fieldsToMessage, parseEntries, readReplyEntries } from './entry.js';
import { Reclaimer, deliveryCounts, keepAlive } from './reclaim.js';
import { CLAIM_DUE_RETRIES, runScript } from './scripts.js';
import { Settler, originalIdOf, type Delivery } from './settle.js';
import type { MutableCounters } from './stats.js';

/**
 * One consumer of the group: read → decode → dispatch → settle.
 *
 * Three sources feed one local queue, and up to `maxInFlight` handlers drain it:
 * - new entries, from XREADGROUP on the dedicated blocking connection;
 * - the group's due retries, claimed from its retry schedule (never from the shared stream, so
 *   other groups never see them);
 * - entries abandoned by dead members of the group, taken over by XAUTOCLAIM.
 * Every entry this consumer holds is kept alive until it is settled, so no other member can take
 * it over while a handler is still working on it.
 */
export class Consumer {
  readonly #connections: Connections;
  readonly #config: ResolvedConfig;
  readonly #processor: MessageProcessor;
  readonly #logger: Logger;
  readonly #counters: MutableCounters;
  readonly #reclaimer: Reclaimer;
  readonly settler: Settler;

  readonly #queue: Delivery[] = [];
  #inFlight = 0;
  /** Stream ids and retry ids held by this consumer (queued, running or awaiting acknowledgement). */
  readonly #ownedStream = new Set<string>();
  readonly #ownedRetries = new Set<string>();

  #running: Promise<void> | undefined;
  #stopping = false;
  #readerId: string | undefined;
  #readerIdEpoch = -1;
  #reading: Promise<unknown> | undefined;
  #retryWakeAt = 0;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  readonly #sleepers = new Map<string, () => void>();
  #spaceWaiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];

  constructor(connections: Connections, config: ResolvedConfig, processor: MessageProcessor, logger: Logger, counters: MutableCounters) {
    this.#connections = connections;
    this.#config = config;
    this.#processor = processor;
    this.#logger = logger;
    this.#counters = counters;
    this.#reclaimer = new Reclaimer(config);
    this.settler = new Settler(
      connections,
      config,
      logger,
      counters,
      (delay) => this.#onRetryScheduled(delay),
      (ids) => {
        for (const id of ids) this.#ownedStream.delete(id);
      },
    );
  }

  get running(): boolean {
    return this.#running !== undefined && !this.#stopping;
  }

  /** Starts the loops; the promise resolves once consumption has stopped and in-flight work is settled. */
  start(): Promise<void> {
    if (this.#running) return this.#running;
    this.#stopping = false;
    this.settler.abandonAt = Number.POSITIVE_INFINITY;
    const run = this.#run().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /**
   * Stops fetching, lets queued and running entries finish and settle. At `deadline` it stops
   * waiting: whatever is not settled stays pending in Redis and is redelivered, never dropped.
   */
  async stop(deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    const running = this.#running;
    if (!running) return true;
    this.#stopping = true;
    this.settler.abandonAt = deadline;
    for (const wake of this.#sleepers.values()) wake();
    this.#notify();
    const interrupted = this.#interruptRead();
    if (deadline === Number.POSITIVE_INFINITY) {
      await Promise.all([running, interrupted]);
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all([running, interrupted]).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      const left = this.#queue.length + this.#inFlight;
      // Stop vouching for what we hold, so live members can take it over after reclaimIdleMs.
      clearInterval(this.#keepAliveTimer);
      for (const delivery of this.#queue.splice(0)) this.#release(delivery);
      this.#logger.warn('Stopped before every entry was settled; they stay pending and will be redelivered', { entries: left });
      this.#notify();
    }
    return finished;
  }

  async #run(): Promise<void> {
    await this.ensureGroup(false);
    const timer = setInterval(() => this.#keepAlive(), this.#config.keepAliveIntervalMs);
    this.#keepAliveTimer = timer;
    try {
      await this.#recoverOwnPending();
      await Promise.all([this.#readLoop(), this.#retryLoop(), this.#reclaimLoop()]);
      await this.#whenIdle();
      await this.settler.flush();
    } finally {
      clearInterval(timer);
    }
  }

  /** Creates the group (and the stream) if missing. After a data loss everything in the stream is new, so it starts at 0. */
  async ensureGroup(afterLoss: boolean): Promise<void> {
    const { keys, consumerGroup, startFrom } = this.#config;
    try {
      await this.#connections.commands.call('XGROUP', [
        'CREATE',
        keys.stream,
        consumerGroup,
        afterLoss || startFrom === 'earliest' ? '0' : '$',
        'MKSTREAM',
      ]);
      if (afterLoss) this.#logger.warn('Consumer group was missing (Redis lost its data?); created it again', { stream: keys.stream, group: consumerGroup });
    } catch (error) {
      if (!errorMessage(error).startsWith('BUSYGROUP')) throw error;
    }
  }

  // ── sources ────────────────────────────────────────────────────────────────

  /** Entries this consumer name read in an earlier life and never settled come first. */
  async #recoverOwnPending(): Promise<void> {
    const { keys, consumerGroup, consumerName, batchSize } = this.#config;
    let from = '0';
    for (let round = 0; round < 1000 && !this.#stopping; round++) {
      await this.#waitForSpace();
      if (this.#stopping) return;
      let entries: Array<{ id: string; fields: string[] | null }>;
      try {
        const reader = await this.#connections.reader();
        const reply = (await reader.call('XREADGROUP', ['GROUP', consumerGroup, consumerName, 'COUNT', String(batchSize), 'STREAMS', keys.stream, from])) as unknown;
        entries = parseEntries(readReplyEntries(reply));
      } catch (error) {
        this.#logger.warn('Could not read this consumer\u2019s own pending entries; XAUTOCLAIM will recover them', { error: errorMessage(error) });
        return;
      }
      if (entries.length === 0) return;
      from = entries[entries.length - 1]!.id;
      const trimmed = entries.filter((e) => e.fields === null).map((e) => e.id);
      if (trimmed.length > 0) {
        await this.#connections.commands.call('XACK', [keys.stream, consumerGroup, ...trimmed]).catch(() => undefined);
        this.#countTrimmed(trimmed);
      }
      const live = entries.filter((e): e is { id: string; fields: string[] } => e.fields !== null && !this.#ownedStream.has(e.id));
      const counts = await deliveryCounts(this.#connections.commands, this.#config, live.map((e) => e.id), this.#ownedStream.size).catch(
        () => new Map<string, number>(),
      );
      for (const entry of live) {
        this.#enqueue({ source: 'stream', id: entry.id, message: fieldsToMessage(entry.fields), deliveries: counts.get(entry.id) ?? 2 });
      }
      this.#pump();
    }
  }

  async #readLoop(): Promise<void> {
    const { keys, consumerGroup, consumerName, batchSize, blockMs } = this.#config;
    let failures = 0;
    while (!this.#stopping) {
      await this.#waitForSpace();
      if (this.#stopping) break;
      let reply: unknown;
      try {
        const reader = await this.#connections.reader();
        if (!this.#connections.isCluster && this.#readerIdEpoch !== this.#connections.readerEpoch) {
          const epoch = this.#connections.readerEpoch;
          this.#readerId = String(await reader.call('CLIENT', ['ID']));
          this.#readerIdEpoch = epoch;
        }
        if (this.#stopping) break;
        this.#reading = reader.call('XREADGROUP', [
          'GROUP',
          consumerGroup,
          consumerName,
          'COUNT',
          String(Math.max(1, batchSize - this.#queue.length)),
          'BLOCK',
          String(blockMs),
          'STREAMS',
          keys.stream,
          '>',
        ]);
        reply = await this.#reading;
        failures = 0;
      } catch (error) {
        if (this.#stopping) break;
        if (errorMessage(error).startsWith('NOGROUP')) {
          await this.ensureGroup(true).catch((e: unknown) => this.#logger.warn('Could not recreate the consumer group', { error: errorMessage(e) }));
          continue;
        }
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          this.#logger.warn('Reading from Redis failed; retrying with backoff', { error: errorMessage(error), failures });
        }
        await this.#sleep('read', Math.min(this.#config.reconnectMaxDelayMs, this.#config.reconnectBaseDelayMs * 2 ** Math.min(failures, 16)));
        continue;
      } finally {
        this.#reading = undefined;
      }
      const entries = parseEntries(readReplyEntries(reply));
      for (const entry of entries) {
        if (entry.fields === null) continue;
        this.#enqueue({ source: 'stream', id: entry.id, message: fieldsToMessage(entry.fields), deliveries: 1 });
      }
      if (entries.length > 0) this.#pump();
    }
  }

  async #retryLoop(): Promise<void> {
    const { keys, batchSize, retryPollMs, reclaimIdleMs } = this.#config;
    while (!this.#stopping) {
      let wait = retryPollMs;
      const room = batchSize - this.#queue.length;
      if (room > 0) {
        try {
          const [items, next] = (await runScript(this.#connections.commands, CLAIM_DUE_RETRIES, [keys.retrySchedule, keys.retryData], [room, reclaimIdleMs])) as [
            Array<[string, string, number]>,
            number,
          ];
          for (const [id, payload, handedOut] of items) {
            if (this.#ownedRetries.has(id)) continue;
            const decoded = decodeRetryPayload(payload);
            this.#enqueue(
              decoded
                ? { source: 'retry', id, originalId: decoded.o, message: fieldsToMessage(decoded.f), deliveries: Number(handedOut) }
                : { source: 'retry', id, originalId: id, message: { headers: Object.create(null) as Record<string, string>, body: payload, key: undefined }, deliveries: Number(handedOut) },
            );
          }
          if (items.length > 0) this.#pump();
          if (items.length >= room) wait = 0;
          else if (Number(next) >= 0) wait = Math.min(wait, Number(next));
        } catch (error) {
          if (this.#stopping) break;
          this.#logger.warn('Could not claim due retries; trying again', { error: errorMessage(error) });
        }
      }
      if (wait > 0) {
        this.#retryWakeAt = Date.now() + wait;
        await this.#sleep('retry', wait);
      } else {
        await this.#waitForSpace();
      }
    }
  }

  async #reclaimLoop(): Promise<void> {
    const { batchSize, reclaimIntervalMs } = this.#config;
    while (!this.#stopping) {
      await this.#sleep('reclaim', reclaimIntervalMs);
      const room = batchSize - this.#queue.length;
      if (this.#stopping || room <= 0) continue;
      try {
        const { deliveries, trimmed } = await this.#reclaimer.reclaim(this.#connections.commands, room, this.#ownedStream);
        if (trimmed.length > 0) this.#countTrimmed(trimmed);
        for (const delivery of deliveries) {
          this.#counters.eventsReclaimed++;
          this.#enqueue(delivery);
        }
        if (deliveries.length > 0) {
          this.#logger.info('Took over entries abandoned by another consumer', { count: deliveries.length });
          this.#pump();
        }
      } catch (error) {
        if (this.#stopping) break;
        if (errorMessage(error).startsWith('NOGROUP')) {
          await this.ensureGroup(true).catch(() => undefined);
          continue;
        }
        this.#logger.warn('Reclaiming abandoned entries failed; trying again', { error: errorMessage(error) });
      }
    }
  }

  // ── handling ───────────────────────────────────────────────────────────────

  #enqueue(delivery: Delivery): void {
    if (delivery.source === 'stream') this.#ownedStream.add(delivery.id);
    else this.#ownedRetries.add(delivery.id);
    this.#counters.eventsConsumed++;
    this.#queue.push(delivery);
  }

  #pump(): void {
    while (this.#inFlight < this.#config.maxInFlight && this.#queue.length > 0) {
      if (Date.now() >= this.settler.abandonAt) {
        for (const left of this.#queue.splice(0)) this.#release(left);
        break;
      }
      const delivery = this.#queue.shift()!;
      this.#inFlight++;
      void this.#handle(delivery);
    }
    this.#notify();
  }

  async #handle(delivery: Delivery): Promise<void> {
    let release = true;
    try {
      if (delivery.deliveries > this.#config.maxDeliveries) {
        await this.settler.deadLetter(delivery, this.#redeliveryLimit(delivery));
        return;
      }
      const { headers, body } = delivery.message;
      const outcome: ProcessOutcome =
        body === undefined ? this.#missingBody(delivery) : await this.#processor.process({ headers, body });
      const settled = this.#settle(delivery, outcome);
      if (delivery.source === 'stream' && (outcome.kind === 'ack' || outcome.kind === 'skip')) {
        // The handler slot frees now; the id stays owned (kept alive) until its batched XACK is written.
        release = false;
        return;
      }
      await settled;
    } catch (error) {
      // The processor turns everything a message can contain into an outcome; this is a bug or a
      // failed write. Leave the entry pending so another attempt happens.
      this.#logger.error('Unexpected error while handling an entry; it stays pending and will be redelivered', {
        id: originalIdOf(delivery),
        error: errorMessage(error),
      });
    } finally {
      this.#inFlight--;
      if (release) this.#release(delivery);
      this.#pump();
    }
  }

  #settle(delivery: Delivery, outcome: ProcessOutcome): Promise<unknown> {
    const counters = this.#counters;
    switch (outcome.kind) {
      case 'ack':
        counters.eventsProcessed++;
        counters.handlersInvoked += outcome.invoked;
        return this.settler.ack(delivery);
      case 'skip':
        counters.eventsSkipped++;
        return this.settler.ack(delivery);
      case 'retry':
        counters.eventsFailed++;
        counters.handlersInvoked += outcome.invoked;
        counters.handlerErrors += outcome.error.failures.length;
        this.#logger.warn('Handler failed; retry scheduled', {
          id: originalIdOf(delivery),
          eventType: outcome.event.eventType,
          attempt: outcome.attempt,
          delayMs: outcome.delay,
          error: outcome.error.message,
        });
        return this.settler.retry(delivery, outcome.delay, outcome.attempt, outcome.headers);
      case 'dead-letter':
        if (outcome.invoked > 0) {
          counters.eventsFailed++;
          counters.handlersInvoked += outcome.invoked;
          if (outcome.error && typeof outcome.error === 'object' && 'failures' in outcome.error) {
            counters.handlerErrors += (outcome.error as { failures: readonly unknown[] }).failures.length;
          }
        }
        return this.settler.deadLetter(delivery, outcome);
    }
  }

  #missingBody(delivery: Delivery): ProcessOutcome {
    const at = new Date().toISOString();
    const history = readFailureHistory(delivery.message.headers);
    return {
      kind: 'dead-letter',
      reason: 'missing_field',
      errorType: 'EnvelopeDecodeError',
      errorMessage: 'Stream entry has no "body" field; publish with RedisEventBus or write the event JSON in a field named body.',
      attempts: history.attempt,
      firstFailureAt: history.firstFailureAt ?? at,
      lastFailureAt: at,
      event: undefined,
      error: undefined,
      invoked: 0,
    };
  }

  #redeliveryLimit(delivery: Delivery): DeadLetterDetails {
    const at = new Date().toISOString();
    const history = readFailureHistory(delivery.message.headers);
    return {
      reason: 'max_retries_exceeded',
      errorType: 'RedeliveryLimitExceeded',
      errorMessage:
        `Handed out ${delivery.deliveries} times (maxDeliveries ${this.#config.maxDeliveries}) without being settled: ` +
        'the consumers holding it crashed or stalled while handling it.',
      attempts: history.attempt,
      firstFailureAt: history.firstFailureAt ?? at,
      lastFailureAt: at,
    };
  }

  #release(delivery: Delivery): void {
    if (delivery.source === 'stream') this.#ownedStream.delete(delivery.id);
    else this.#ownedRetries.delete(delivery.id);
  }

  #keepAlive(): void {
    if (this.#ownedStream.size === 0 && this.#ownedRetries.size === 0) return;
    keepAlive(this.#connections.commands, this.#config, [...this.#ownedStream], [...this.#ownedRetries]).catch((error: unknown) =>
      this.#logger.debug('Keep-alive of in-flight entries failed', { error: errorMessage(error), type: errorName(error) }),
    );
  }

  #countTrimmed(ids: readonly string[]): void {
    this.#counters.eventsTrimmedUnacked += ids.length;
    this.#logger.warn('Entries were trimmed from the stream before this group handled them; raise maxLen / maxAgeMs', {
      stream: this.#config.keys.stream,
      group: this.#config.consumerGroup,
      count: ids.length,
    });
  }

  #onRetryScheduled(delay: number): void {
    if (Date.now() + delay < this.#retryWakeAt) {
      this.#retryWakeAt = 0;
      this.#sleepers.get('retry')?.();
    }
  }

  // ── waiting ────────────────────────────────────────────────────────────────

  async #interruptRead(): Promise<void> {
    for (let i = 0; this.#reading && i < 20; i++) {
      const reading = this.#reading;
      if (this.#readerId !== undefined && !this.#connections.isCluster) {
        await this.#connections.commands.call('CLIENT', ['UNBLOCK', this.#readerId]).catch(() => undefined);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([reading.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 50)))]);
      clearTimeout(timer);
    }
    // Unreachable server or a cluster: closing the socket is the only way to end the blocked read.
    if (this.#reading) this.#connections.dropReader();
  }

  #sleep(name: string, ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#sleepers.set(name, () => {
        this.#sleepers.delete(name);
        done();
      });
    });
  }

  /**
   * Until the local queue is down to half a batch or we are stopping: the next read then overlaps
   * with handling the rest, so the consumer does not sit idle for a round trip per batch.
   */
  #waitForSpace(): Promise<void> {
    if (this.#hasSpace() || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  #whenIdle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #hasSpace(): boolean {
    return this.#queue.length <= this.#config.batchSize >> 1;
  }

  #notify(): void {
    if (this.#hasSpace() || this.#stopping) {
      const waiters = this.#spaceWaiters;
      this.#spaceWaiters = [];
      for (const wake of waiters) wake();
    }
    if (this.#queue.length === 0 && this.#inFlight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
