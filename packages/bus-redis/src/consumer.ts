import { TransportError, type Logger } from '@eventsource/core';
import { errorMessage, redact, type DeliverySink } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import { isPermanentReplyError, type Connections } from './connection.js';
import { decodeRetryPayload, fieldsToMessage, parseEntries, readReplyEntries, type EntryMessage, type Field } from './entry.js';
import type { Lease } from './lease.js';
import { Reclaimer, deliveryCounts } from './reclaim.js';
import { CLAIM_DUE_RETRIES, CREATE_GROUP, DELETE_IDLE_CONSUMER, runScript } from './scripts.js';
import { retryDelivery, streamDelivery, type RedisDelivery } from './settle.js';
import type { RedisCounters } from './stats.js';
import { pairs, trimmedBeforeRead } from './stream-info.js';

/**
 * This process as a member of the consumer group: sets up the group, then runs three sources
 * that feed the kit's pump:
 * - new entries, from XREADGROUP on the dedicated blocking connection;
 * - the group's due retries, claimed from its retry schedule (never from the shared stream, so
 *   other groups never see them);
 * - entries abandoned by dead members of the group, taken over by XAUTOCLAIM (suspects: they run
 *   in the pump's isolation lane).
 */
export class Consumer {
  readonly #connections: Connections;
  readonly #config: ResolvedConfig;
  readonly #logger: Logger;
  readonly #counters: RedisCounters;
  readonly #lease: Lease;
  readonly #reclaimer: Reclaimer;
  #stopping = false;
  #stopped: Promise<void> = Promise.resolve();
  #signalStopped: () => void = () => {};
  /** The last gap of trimmed, unread entries reported: the group's position and how many. */
  #trimSeen: { readonly at: string; readonly count: number } | undefined;
  #readerId: string | undefined;
  /** False once Redis refused CLIENT ID or CLIENT UNBLOCK (ACL): a blocked read is then ended by closing its socket. */
  #canUnblock = true;
  #readerIdEpoch = -1;
  #reading: Promise<unknown> | undefined;
  #retryWakeAt = 0;
  readonly #sleepers = new Map<string, () => void>();
  /** Whether this process ever consumed (then it leaves the group's member list at close). */
  consumedOnce = false;

  constructor(connections: Connections, config: ResolvedConfig, logger: Logger, counters: RedisCounters, lease: Lease) {
    this.#connections = connections;
    this.#config = config;
    this.#logger = logger;
    this.#counters = counters;
    this.#lease = lease;
    this.#reclaimer = new Reclaimer(config);
  }

  /** Runs until stop(); rejects only when Redis refuses for good (a missing permission, a key of the wrong type). */
  async consume(sink: DeliverySink<RedisDelivery>): Promise<void> {
    this.#stopping = false;
    this.#stopped = new Promise((resolve) => (this.#signalStopped = resolve));
    this.consumedOnce = true;
    if (!(await this.#setUp(sink))) return;
    sink.started();
    this.#lease.start(sink);
    try {
      await this.#checkTrimmedBeforeRead();
      await this.#recoverOwnPending(sink);
      await Promise.all([this.#readLoop(sink), this.#retryLoop(sink), this.#reclaimLoop(sink)]);
    } finally {
      this.#lease.stop();
    }
  }

  /** Stops fetching, promptly, whatever Redis does: a blocked read is unblocked or its socket closed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#signalStopped();
    for (const wake of this.#sleepers.values()) wake();
    await this.#interruptRead();
  }

  /** A retry was just scheduled: wake the retry loop if it is due before the loop's next look. */
  onRetryScheduled(delayMs: number): void {
    if (Date.now() + delayMs < this.#retryWakeAt) {
      this.#retryWakeAt = 0;
      this.#sleepers.get('retry')?.();
    }
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

  /**
   * Creates the group, retrying with the reconnect backoff while Redis is unreachable (consuming
   * that starts during an outage begins when it ends). False when stopped first.
   */
  async #setUp(sink: DeliverySink<RedisDelivery>): Promise<boolean> {
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
        sink.problem(`cannot create consumer group ${consumerGroup} on ${keys.stream}: ${message}`);
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
  async #recoverOwnPending(sink: DeliverySink<RedisDelivery>): Promise<void> {
    const { keys, consumerGroup, consumerName, batchSize } = this.#config;
    let from = '0';
    for (let round = 0; round < 1000 && !this.#stopping; round++) {
      await sink.waitForSpace();
      if (this.#stopping) return;
      let entries: Array<{ id: string; fields: Field[] | null }>;
      try {
        const reader = await this.#connections.reader();
        const reply = (await reader.callBuffer('XREADGROUP', ['GROUP', consumerGroup, consumerName, 'COUNT', String(batchSize), 'STREAMS', keys.stream, from])) as unknown;
        entries = parseEntries(readReplyEntries(reply));
      } catch (error) {
        this.#logger.warn('Could not read this consumer\u2019s own pending entries; XAUTOCLAIM will recover them', { error: redact(errorMessage(error)) });
        return;
      }
      if (entries.length === 0) return;
      from = entries[entries.length - 1]!.id;
      const trimmed = entries.filter((e) => e.fields === null).map((e) => e.id);
      if (trimmed.length > 0) {
        await this.#connections.commands.call('XACK', [keys.stream, consumerGroup, ...trimmed]).catch(() => undefined);
        this.#countTrimmed(trimmed);
      }
      const live = entries.filter((e): e is { id: string; fields: Field[] } => e.fields !== null);
      const counts = await deliveryCounts(this.#connections.commands, this.#config, live.map((e) => e.id), 0).catch(() => new Map<string, number>());
      const claim = this.#lease.claimForFetch();
      for (const entry of live) sink.push(streamDelivery(entry.id, fieldsToMessage(entry.fields), counts.get(entry.id) ?? 2, claim));
    }
  }

  async #readLoop(sink: DeliverySink<RedisDelivery>): Promise<void> {
    const { keys, consumerGroup, consumerName, batchSize, blockMs } = this.#config;
    let failures = 0;
    while (!this.#stopping) {
      await sink.waitForSpace();
      if (this.#stopping) break;
      let reply: unknown;
      try {
        const reader = await Promise.race([this.#connections.reader(), this.#stopped.then(() => undefined)]);
        if (!reader || this.#stopping) break;
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
        const reading = reader.callBuffer('XREADGROUP', [
          'GROUP',
          consumerGroup,
          consumerName,
          'COUNT',
          String(Math.max(1, batchSize - sink.queued)),
          'BLOCK',
          String(blockMs),
          'STREAMS',
          keys.stream,
          '>',
        ]);
        this.#reading = reading;
        // A read queued by ioredis during an outage is never rejected by disconnect(): stopping
        // must not wait for it.
        reply = await Promise.race([reading, this.#stopped.then(() => null)]);
        reading.catch(() => undefined);
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
      if (reply === null || reply === undefined) continue;
      const entries = parseEntries(readReplyEntries(reply));
      if (entries.length === 0) continue;
      const claim = this.#lease.claimForFetch();
      for (const entry of entries) {
        if (entry.fields === null) continue;
        sink.push(streamDelivery(entry.id, fieldsToMessage(entry.fields), 1, claim));
      }
    }
  }

  async #retryLoop(sink: DeliverySink<RedisDelivery>): Promise<void> {
    const { keys, batchSize, retryPollMs, reclaimIdleMs } = this.#config;
    while (!this.#stopping) {
      let wait = retryPollMs;
      const room = batchSize - sink.queued;
      if (room > 0) {
        try {
          const [items, next] = (await runScript(this.#connections.commands, CLAIM_DUE_RETRIES, [keys.retrySchedule, keys.retryData], [room, reclaimIdleMs])) as [
            Array<[string, string, number]>,
            number,
          ];
          const claim = this.#lease.claimForFetch();
          for (const [id, payload, handedOut] of items) {
            const decoded = decodeRetryPayload(payload);
            const message: EntryMessage = decoded ? fieldsToMessage(decoded.f) : { headers: {}, body: payload, key: undefined };
            sink.push(retryDelivery(id, decoded?.o ?? id, message, Number(handedOut), claim));
          }
          if (items.length >= room) wait = 0;
          else if (Number(next) >= 0) wait = Math.min(wait, Number(next));
        } catch (error) {
          if (this.#stopping) break;
          this.#logger.warn('Could not claim due retries; trying again', { error: redact(errorMessage(error)) });
        }
      }
      if (wait > 0) {
        this.#retryWakeAt = Date.now() + wait;
        await this.#sleep('retry', wait);
      } else {
        await sink.waitForSpace();
      }
    }
  }

  async #reclaimLoop(sink: DeliverySink<RedisDelivery>): Promise<void> {
    const { batchSize, reclaimIntervalMs } = this.#config;
    while (!this.#stopping) {
      await this.#sleep('reclaim', reclaimIntervalMs);
      if (this.#stopping) break;
      await this.#checkTrimmedBeforeRead();
      const room = batchSize - sink.queued;
      if (this.#stopping || room <= 0) continue;
      try {
        const owned = new Set<string>();
        for (const delivery of sink.inProgress()) if (delivery.source === 'stream') owned.add(delivery.id);
        const { deliveries, trimmed } = await this.#reclaimer.reclaim(this.#connections.commands, room, owned, this.#lease.claimForFetch());
        if (trimmed.length > 0) this.#countTrimmed(trimmed);
        for (const delivery of deliveries) {
          this.#counters.eventsReclaimed++;
          sink.push(delivery);
        }
        if (deliveries.length > 0) this.#logger.info('Took over entries abandoned by another consumer', { count: deliveries.length });
      } catch (error) {
        if (this.#stopping) break;
        if (errorMessage(error).startsWith('NOGROUP')) {
          await this.ensureGroup(true).catch(() => undefined);
          continue;
        }
        this.#logger.warn('Reclaiming abandoned entries failed; trying again', { error: redact(errorMessage(error)) });
      }
    }
  }

  #countTrimmed(ids: readonly string[]): void {
    this.#counters.eventsTrimmedPending += ids.length;
    this.#logger.warn('Entries this group had read were trimmed from the stream before they were settled; raise maxLen / maxAgeMs', {
      stream: this.#config.keys.stream,
      group: this.#config.consumerGroup,
      count: ids.length,
    });
  }

  // ── waiting ────────────────────────────────────────────────────────────────

  async #interruptRead(): Promise<void> {
    for (let i = 0; this.#reading && i < 20; i++) {
      const reading = this.#reading;
      // Without a reader id (cluster, or an ACL without CLIENT) closing the socket is the only way.
      if (this.#readerId === undefined || !this.#canUnblock || this.#connections.isCluster || this.#connections.commands.status !== 'ready') break;
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
}

function setupHint(message: string, stream: string): string {
  if (message.startsWith('NOPERM')) {
    return `Grant the Redis user the stream commands (XGROUP, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM, XPENDING, XINFO, EVALSHA) on the bus's keys, then call startConsuming() again.`;
  }
  if (message.startsWith('WRONGTYPE')) return `The key ${stream} exists and is not a stream: choose another streamPrefix or delete that key.`;
  return 'Fix the cause, then call startConsuming() again.';
}
