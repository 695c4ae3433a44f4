import { TransportError, type Logger } from '@eventsource/core';
import {
  errorMessage,
  errorName,
  readFailureHistory,
  type DeadLetterDetails,
  type MessageProcessor,
  type ProcessOutcome,
} from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import { isPermanentReplyError, redact, type Connections } from './connection.js';
import { decodeRetryPayload, fieldsToMessage, parseEntries, readReplyEntries } from './entry.js';
import { Reclaimer, deliveryCounts, keepAlive } from './reclaim.js';
import { CLAIM_DUE_RETRIES, CREATE_GROUP, DELETE_IDLE_CONSUMER, RELEASE_RETRIES, runScript } from './scripts.js';
import { Settler, originalIdOf, type Delivery } from './settle.js';
import type { MutableCounters } from './stats.js';
import { pairs, trimmedBeforeRead } from './stream-info.js';

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
  /** True once the group exists and the loops run. */
  #started = false;
  #stopping = false;
  #stopped: Promise<void> = Promise.resolve();
  #signalStopped: () => void = () => {};
  /** Why consumption that was asked for is not running (e.g. the group could not be created yet). */
  #problem: { lastError: string; since: string } | undefined;
  #readerId: string | undefined;
  /** The last gap of trimmed, unread entries reported: the group's position and how many. */
  #trimSeen: { readonly at: string; readonly count: number } | undefined;
  /** False once Redis refused CLIENT ID or CLIENT UNBLOCK (ACL): a blocked read is then ended by closing its socket. */
  #canUnblock = true;
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

  /** True while the loops run (not while the group is still being set up, e.g. during an outage). */
  get running(): boolean {
    return this.#started && !this.#stopping;
  }

  get problem(): { readonly lastError: string; readonly since: string } | undefined {
    return this.#problem;
  }

  /**
   * Starts the loops; the promise resolves once consumption has stopped and in-flight work is
   * settled. While Redis is unreachable it keeps trying to set up the group; it rejects only when
   * Redis refuses for good (a missing permission, a key of the wrong type).
   */
  start(): Promise<void> {
    if (this.#running) return this.#running;
    this.#stopping = false;
    this.#stopped = new Promise((resolve) => (this.#signalStopped = resolve));
    this.settler.abandonAt = Number.POSITIVE_INFINITY;
    this.settler.abandoned = 0;
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
    this.#signalStopped();
    this.settler.abandonAt = deadline;
    for (const wake of this.#sleepers.values()) wake();
    this.#notify();
    const interrupted = this.#interruptRead();
    if (deadline === Number.POSITIVE_INFINITY) {
      await Promise.all([running.catch(() => undefined), interrupted]);
      return this.settler.abandoned === 0;
    }
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all([running.catch(() => undefined), interrupted]).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      const running = this.#inFlight;
      const queued = this.#queue.splice(0);
      // Stop vouching for what we hold, so live members can take it over after reclaimIdleMs.
      clearInterval(this.#keepAliveTimer);
      await this.#handBack(queued);
      this.#logger.warn('Stopped before every entry was settled; they stay pending and will be redelivered', {
        running,
        handedBack: queued.length,
      });
      this.#notify();
    }
    return finished && this.settler.abandoned === 0;
  }

  /**
   * On a clean shutdown: leaves the group's consumer list when this consumer holds no pending
   * entries, so random default names do not pile up in XINFO CONSUMERS. Best effort.
   */
  async leaveGroup(): Promise<void> {
    const { keys, consumerGroup, consumerName } = this.#config;
    await runScript(this.#connections.commands, DELETE_IDLE_CONSUMER, [keys.stream], [consumerGroup, consumerName]).catch((error: unknown) =>
      this.#logger.debug('Could not remove this consumer from the group', { error: errorMessage(error) }),
    );
  }

  async #run(): Promise<void> {
    if (!(await this.#setUp())) return;
    this.#started = true;
    this.#problem = undefined;
    const timer = setInterval(() => this.#keepAlive(), this.#config.keepAliveIntervalMs);
    this.#keepAliveTimer = timer;
    try {
      await this.#checkTrimmedBeforeRead();
      await this.#recoverOwnPending();
      await Promise.all([this.#readLoop(), this.#retryLoop(), this.#reclaimLoop()]);
      await this.#whenIdle();
      await this.settler.flush();
    } finally {
      this.#started = false;
      clearInterval(timer);
    }
  }

  /**
   * Creates the group, retrying with the reconnect backoff while Redis is unreachable (consuming
   * that starts during an outage begins when it ends). False when stopped first.
   */
  async #setUp(): Promise<boolean> {
    const { keys, consumerGroup } = this.#config;
    for (let failures = 1; !this.#stopping; failures++) {
      try {
        const created = this.ensureGroup(false);
        created.catch(() => undefined);
        await Promise.race([created, this.#stopped]);
        return !this.#stopping;
      } catch (error) {
        if (this.#stopping) return false;
        const message = redact(errorMessage(error));
        this.#problem = { lastError: `cannot create consumer group ${consumerGroup} on ${keys.stream}: ${message}`, since: this.#problem?.since ?? new Date().toISOString() };
        if (isPermanentReplyError(error)) {
          throw new TransportError(
            `Could not create consumer group "${consumerGroup}" on stream "${keys.stream}": ${message}. ${setupHint(message, keys.stream)}`,
            { cause: error },
          );
        }
        if (failures === 1 || failures % 20 === 0) {
          this.#logger.warn('Could not create the consumer group; Redis unreachable? Retrying with backoff', { error: message, failures });
        }
        await this.#sleep('setup', this.#backoff(failures));
      }
    }
    return false;
  }

  #backoff(failures: number): number {
    const { reconnectBaseDelayMs, reconnectMaxDelayMs } = this.#config;
    return Math.min(reconnectMaxDelayMs, reconnectBaseDelayMs * 2 ** Math.min(failures - 1, 16));
  }

  /**
   * Gives entries fetched but never started back to the group without a delivery counted against
   * them, so a live member takes them over at its next reclaim and they keep their full
   * maxDeliveries budget: stream entries go back into the pending list already idle for
   * reclaimIdleMs with their delivery count lowered by the one this fetch added; retries become
   * due at once with their hand-out count lowered. Bounded: on failure they are taken over after
   * reclaimIdleMs as usual.
   */
  async #handBack(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    for (const delivery of deliveries) this.#release(delivery);
    const { keys, consumerGroup, consumerName, reclaimIdleMs } = this.#config;
    const commands = this.#connections.commands;
    const byCount = new Map<number, string[]>();
    const retryIds: string[] = [];
    for (const delivery of deliveries) {
      if (delivery.source === 'retry') retryIds.push(delivery.id);
      else {
        const count = Math.max(0, delivery.deliveries - 1);
        const ids = byCount.get(count) ?? [];
        ids.push(delivery.id);
        byCount.set(count, ids);
      }
    }
    const work: Array<Promise<unknown>> = [];
    for (const [count, ids] of byCount) {
      work.push(
        commands.call('XCLAIM', [keys.stream, consumerGroup, consumerName, '0', ...ids, 'IDLE', String(reclaimIdleMs), 'RETRYCOUNT', String(count), 'JUSTID']),
      );
    }
    if (retryIds.length > 0) work.push(runScript(commands, RELEASE_RETRIES, [keys.retrySchedule, keys.retryData], retryIds));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([Promise.all(work), new Promise((resolve) => (timer = setTimeout(resolve, HAND_BACK_TIMEOUT_MS)))]);
    } catch (error) {
      this.#logger.warn('Could not hand back entries that never started; they are taken over after reclaimIdleMs', {
        entries: deliveries.length,
        error: errorMessage(error),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Creates the group (and the stream) if missing. After a data loss everything in the stream is new, so it starts at 0. */
  async ensureGroup(afterLoss: boolean): Promise<void> {
    const { keys, consumerGroup, startFrom } = this.#config;
    const from = afterLoss || startFrom === 'earliest' ? '0' : '$';
    try {
      try {
        await runScript(this.#connections.commands, CREATE_GROUP, [keys.stream], [consumerGroup, from]);
      } catch (error) {
        // Redis before 7.0 (no ENTRIESREAD) or a user without EVAL: the plain command still works.
        if (!isPermanentReplyError(error) || errorMessage(error).startsWith('BUSYGROUP')) throw error;
        await this.#connections.commands.call('XGROUP', ['CREATE', keys.stream, consumerGroup, from, 'MKSTREAM']);
      }
      if (afterLoss) this.#logger.warn('Consumer group was missing (Redis lost its data?); created it again', { stream: keys.stream, group: consumerGroup });
    } catch (error) {
      if (!errorMessage(error).startsWith('BUSYGROUP')) throw error;
    }
  }

  /**
   * Warns (once per gap) and counts when entries were trimmed from the stream before this group
   * read them: the group fell further behind than maxLen / maxAgeMs allows. Runs at start and
   * with every reclaim round; best effort.
   */
  async #checkTrimmedBeforeRead(): Promise<void> {
    const { keys, consumerGroup } = this.#config;
    let reply: Array<[Error | null, unknown]> | null;
    try {
      reply = await this.#connections.commands.multi().call('XINFO', ['STREAM', keys.stream]).call('XINFO', ['GROUPS', keys.stream]).exec();
    } catch (error) {
      this.#logger.debug('Could not check the stream for trimmed, unread entries', { error: errorMessage(error) });
      return;
    }
    const [streamReply, groupsReply] = reply ?? [];
    if (!streamReply || !groupsReply || streamReply[0] || groupsReply[0] || !Array.isArray(groupsReply[1])) return;
    const group = (groupsReply[1] as unknown[]).map(pairs).find((g) => String(g.name) === consumerGroup);
    if (!group) return;
    const count = trimmedBeforeRead(pairs(streamReply[1]), group);
    if (!count) return;
    const at = String(group['last-delivered-id']);
    const before = this.#trimSeen?.at === at ? this.#trimSeen.count : 0;
    if (count <= before) return;
    this.#trimSeen = { at, count };
    this.#counters.eventsTrimmedUnread += count - before;
    if (before === 0) {
      this.#logger.warn(
        `${count} entries were trimmed from the stream before consumer group ${consumerGroup} read them; they are lost for this group. ` +
          'The group fell further behind than the stream keeps: raise maxLen (or maxAgeMs) on the publishers, or add consumers.',
        { stream: keys.stream, group: consumerGroup, count, lastDeliveredId: at },
      );
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
        if (this.#canUnblock && !this.#connections.isCluster && this.#readerIdEpoch !== this.#connections.readerEpoch) {
          const epoch = this.#connections.readerEpoch;
          this.#readerId = undefined;
          try {
            this.#readerId = String(await reader.call('CLIENT', ['ID']));
          } catch (error) {
            // Connection trouble is retried below; a refusal (ACL without CLIENT) is for good.
            if (!isPermanentReplyError(error)) throw error;
            this.#cannotUnblock(error);
          }
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
          this.#logger.warn('Reading from Redis failed; retrying with backoff', { error: redact(errorMessage(error)), failures });
        }
        await this.#sleep('read', this.#backoff(failures + 1));
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
      if (this.#stopping) break;
      await this.#checkTrimmedBeforeRead();
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
        void this.#handBack(this.#queue.splice(0));
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
    this.#counters.eventsTrimmedPending += ids.length;
    this.#logger.warn('Entries this group had read were trimmed from the stream before they were settled; raise maxLen / maxAgeMs', {
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
      // Without a reader id (cluster, or an ACL without CLIENT) closing the socket is the only way.
      if (this.#readerId === undefined || !this.#canUnblock || this.#connections.isCluster) break;
      try {
        await this.#connections.commands.call('CLIENT', ['UNBLOCK', this.#readerId]);
      } catch (error) {
        if (isPermanentReplyError(error)) {
          this.#cannotUnblock(error);
          break;
        }
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([reading.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 50)))]);
      clearTimeout(timer);
    }
    // Unreachable server, a cluster or no CLIENT permission: closing the socket ends the blocked read.
    if (this.#reading) this.#connections.dropReader();
  }

  #cannotUnblock(error: unknown): void {
    if (!this.#canUnblock) return;
    this.#canUnblock = false;
    this.#readerId = undefined;
    this.#logger.info('Redis refused CLIENT ID / CLIENT UNBLOCK (ACL?); stopping will close the reading connection to end a blocked read', {
      error: errorMessage(error),
    });
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

/** Longest wait for handing back unstarted entries at a shutdown deadline. */
const HAND_BACK_TIMEOUT_MS = 1000;

function setupHint(message: string, stream: string): string {
  if (message.startsWith('NOPERM')) {
    return `Grant the Redis user the stream commands (XGROUP, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM, XPENDING, XINFO, EVALSHA) on the bus's keys, then call startConsuming() again.`;
  }
  if (message.startsWith('WRONGTYPE')) return `The key ${stream} exists and is not a stream: choose another streamPrefix or delete that key.`;
  return 'Fix the cause, then call startConsuming() again.';
}
