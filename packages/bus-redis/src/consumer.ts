import { TransportError, type Logger } from '@eventsource/core';
import { errorMessage, redact, type Claim, type DeliverySink } from '@eventsource/core/transport';
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
  /** The stream's `entries-added` when last seen: lower after a NOGROUP means the stream was created anew (Redis lost its data). */
  #entriesAdded: number | undefined;
  /** The newest entry this consumer read from the stream. */
  #lastReadId: string | undefined;
  #lastStaleSweep = 0;
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
    await runScript(this.#connections.commands, DELETE_IDLE_CONSUMER, [keys.stream], [consumerGroup, consumerName, 0]).catch((error: unknown) =>
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

  /**
   * Creates the group (and the stream) if missing, where `startFrom` says; `afterLoss`: at `0`,
   * because after a data loss everything in the stream is new.
   */
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
    } catch (error) {
      if (!errorMessage(error).startsWith('BUSYGROUP')) throw error;
    }
  }

  /**
   * Redis answered NOGROUP while consuming. Either Redis lost its data (a restart without
   * persistence, a failover to an empty replica: the stream is gone, empty, or was created anew)
   * and the group starts at `0`, since every entry in the stream is new; or someone removed the
   * group (`XGROUP DESTROY`) from a stream that still holds its entries, and it is created again
   * like a new group, where `startFrom` says, so `latest` does not re-read the retained stream.
   */
  async #groupMissing(): Promise<void> {
    const { keys, consumerGroup, startFrom } = this.#config;
    let length = 0;
    let added: number | undefined;
    try {
      const info = pairs(await this.#connections.commands.call('XINFO', ['STREAM', keys.stream]));
      length = Number(info.length ?? 0);
      added = info['entries-added'] === undefined ? undefined : Number(info['entries-added']);
    } catch (error) {
      // No such key: the stream is gone with the group.
      if (!/no such key/i.test(errorMessage(error))) throw error;
    }
    let lost = length === 0 || (added !== undefined && this.#entriesAdded !== undefined && added < this.#entriesAdded);
    if (!lost && added === length && this.#lastReadId !== undefined) {
      // Nothing was ever trimmed or deleted from this stream, yet the entry read last is not in it: a new stream.
      lost = ((await this.#connections.commands.call('XRANGE', [keys.stream, this.#lastReadId, this.#lastReadId])) as unknown[]).length === 0;
    }
    await this.ensureGroup(lost);
    this.#entriesAdded = added;
    if (lost) {
      this.#logger.warn('Consumer group was missing and the stream was gone, empty or new (Redis lost its data?); created the group again at the start of the stream', {
        stream: keys.stream,
        group: consumerGroup,
      });
    } else {
      this.#logger.warn(
        `Consumer group ${consumerGroup} was removed (XGROUP DESTROY?) from a stream that still holds ${length} entries; created it again ` +
          (startFrom === 'latest' ? 'at the end of the stream (startFrom: latest): only entries published from now on are read.' : 'at the start of the stream (startFrom: earliest): every retained entry is read again.') +
          ' Entries the group had read and not settled are no longer pending.',
        { stream: keys.stream, group: consumerGroup, startFrom },
      );
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
      reply = (await this.#untilStopped(this.#connections.commands.multi().call('XINFO', ['STREAM', keys.stream]).call('XINFO', ['GROUPS', keys.stream]).exec())) ?? null;
    } catch (error) {
      this.#logger.debug('Could not check the stream for trimmed, unread entries', { error: errorMessage(error) });
      return;
    }
    const [streamReply, groupsReply] = reply ?? [];
    if (!streamReply || !groupsReply || streamReply[0] || groupsReply[0] || !Array.isArray(groupsReply[1])) return;
    const stream = pairs(streamReply[1]);
    if (stream['entries-added'] !== undefined) this.#entriesAdded = Number(stream['entries-added']);
    const group = (groupsReply[1] as unknown[]).map(pairs).find((g) => String(g.name) === consumerGroup);
    if (!group) return;
    const count = trimmedBeforeRead(stream, group);
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
        const reader = await this.#untilStopped(this.#connections.reader());
        if (!reader) return;
        const reply = await this.#untilStopped(
          reader.callBuffer('XREADGROUP', ['GROUP', consumerGroup, consumerName, 'COUNT', String(batchSize), 'STREAMS', keys.stream, from]) as Promise<unknown>,
        );
        if (reply === undefined) return;
        entries = parseEntries(readReplyEntries(reply));
      } catch (error) {
        this.#logger.warn('Could not read this consumer\u2019s own pending entries; XAUTOCLAIM will recover them', { error: redact(errorMessage(error)) });
        return;
      }
      if (entries.length === 0) return;
      from = entries[entries.length - 1]!.id;
      const trimmed = entries.filter((e) => e.fields === null).map((e) => e.id);
      if (trimmed.length > 0) {
        await this.#untilStopped(this.#connections.commands.call('XACK', [keys.stream, consumerGroup, ...trimmed]).catch(() => undefined));
        this.#countTrimmed(trimmed);
      }
      const live = entries.filter((e): e is { id: string; fields: Field[] } => e.fields !== null);
      const counts =
        (await this.#untilStopped(deliveryCounts(this.#connections.commands, this.#config, live.map((e) => e.id), 0).catch(() => new Map<string, number>()))) ??
        new Map<string, number>();
      const { maxEntryBytes } = this.#config;
      const claim = this.#lease.claimForFetch();
      for (const entry of live) sink.push(streamDelivery(entry.id, fieldsToMessage(entry.fields, maxEntryBytes), counts.get(entry.id) ?? 2, claim));
    }
  }

  async #readLoop(sink: DeliverySink<RedisDelivery>): Promise<void> {
    const { keys, consumerGroup, consumerName, batchSize, blockMs, maxEntryBytes } = this.#config;
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
            const id = await this.#untilStopped(reader.call('CLIENT', ['ID']));
            if (id === undefined) break;
            this.#readerId = String(id);
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
          await this.#untilStopped(this.#groupMissing().catch((e: unknown) => this.#logger.warn('Could not recreate the consumer group', { error: errorMessage(e) })));
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
      this.#lastReadId = entries[entries.length - 1]!.id;
      const claim = this.#lease.claimForFetch();
      for (const entry of entries) {
        if (entry.fields === null) continue;
        sink.push(streamDelivery(entry.id, fieldsToMessage(entry.fields, maxEntryBytes), 1, claim));
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
          // Taken before asking: the visibility timeout runs from when Redis hands the retries
          // out, so a reply held up in the network must not give them a fresh claim.
          const claim = this.#lease.claimForFetch();
          const claiming = runScript(this.#connections.commands, CLAIM_DUE_RETRIES, [keys.retrySchedule, keys.retryData], [room, reclaimIdleMs]) as Promise<
            [Array<[string, string, number, number]>, number, string[] | undefined]
          >;
          // Claimed after stopping won: given back at once instead of waiting out their visibility timeout.
          const reply = await this.#untilStopped(claiming, ([items]) => this.#lease.handBack(this.#retryDeliveries(items, claim)));
          if (reply === undefined) break;
          const [items, next, missing] = reply;
          if (missing && missing.length > 0) this.#countMissing(missing);
          const deliveries = this.#retryDeliveries(items, claim);
          // The reply came too late to start them: given back (only those still this consumer's).
          if (claim.lost) void this.#lease.handBack(deliveries);
          else for (const delivery of deliveries) sink.push(delivery);
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

  #retryDeliveries(items: ReadonlyArray<[string, string, number, number]>, claim: Claim): RedisDelivery[] {
    return items.map(([id, payload, handedOut, token]) => {
      const decoded = decodeRetryPayload(payload);
      const message: EntryMessage = decoded ? fieldsToMessage(decoded.f, this.#config.maxEntryBytes) : { headers: {}, body: payload, key: undefined };
      return retryDelivery(id, decoded?.o ?? id, message, Number(handedOut), String(token), claim);
    });
  }

  /** Retries whose stored entry vanished: evicted (or deleted). Lost for the group; never silently. */
  #countMissing(ids: readonly string[]): void {
    this.#counters.eventsMissingData += ids.length;
    this.#logger.error(
      'Scheduled retries had lost their stored entry (evicted? Redis must run with maxmemory-policy noeviction); these events are lost for this group',
      { group: this.#config.consumerGroup, count: ids.length, ids: ids.slice(0, 20) },
    );
  }

  async #reclaimLoop(sink: DeliverySink<RedisDelivery>): Promise<void> {
    const { batchSize, maxInFlight, reclaimIntervalMs } = this.#config;
    while (!this.#stopping) {
      await this.#sleep('reclaim', reclaimIntervalMs);
      if (this.#stopping) break;
      await this.#checkTrimmedBeforeRead();
      await this.#removeStaleConsumers();
      const owned = new Set<string>();
      let busy = 0;
      for (const delivery of sink.inProgress()) {
        busy++;
        if (delivery.source === 'stream') owned.add(delivery.id);
      }
      // Only as many as there are free handler slots: a member whose handlers are all busy (or
      // hung) takes no abandoned work, not even the entries it just handed back itself.
      const room = Math.min(batchSize, maxInFlight - busy) - sink.queued;
      if (this.#stopping || room <= 0) continue;
      try {
        const result = await this.#untilStopped(this.#reclaimer.reclaim(this.#connections.commands, room, owned, this.#lease.claimForFetch()), (late) =>
          this.#lease.handBack(late.deliveries),
        );
        if (result === undefined) break;
        const { deliveries, trimmed } = result;
        if (trimmed.length > 0) this.#countTrimmed(trimmed);
        for (const delivery of deliveries) {
          this.#counters.eventsReclaimed++;
          sink.push(delivery);
        }
        if (deliveries.length > 0) this.#logger.info('Took over entries abandoned by another consumer', { count: deliveries.length });
      } catch (error) {
        if (this.#stopping) break;
        if (errorMessage(error).startsWith('NOGROUP')) {
          await this.#untilStopped(this.#groupMissing().catch(() => undefined));
          continue;
        }
        this.#logger.warn('Reclaiming abandoned entries failed; trying again', { error: redact(errorMessage(error)) });
      }
    }
  }

  /**
   * Removes members that hold no pending entries and have not read for staleConsumerIdleMs: the
   * processes that crashed under random default names. Each removal is checked and done in one
   * script, so a member that reads again in between is kept. At most every quarter of the
   * threshold; best effort.
   */
  async #removeStaleConsumers(): Promise<void> {
    const { keys, consumerGroup, consumerName, staleConsumerIdleMs } = this.#config;
    if (staleConsumerIdleMs === 0 || Date.now() - this.#lastStaleSweep < staleConsumerIdleMs / 4) return;
    this.#lastStaleSweep = Date.now();
    try {
      const members = ((await this.#untilStopped(this.#connections.commands.call('XINFO', ['CONSUMERS', keys.stream, consumerGroup]))) ?? []) as unknown[];
      for (const raw of members) {
        const member = pairs(raw);
        const name = String(member.name);
        if (name === consumerName || Number(member.pending ?? 0) > 0 || Number(member.idle ?? 0) < staleConsumerIdleMs || this.#stopping) continue;
        const removed = await this.#untilStopped(runScript(this.#connections.commands, DELETE_IDLE_CONSUMER, [keys.stream], [consumerGroup, name, staleConsumerIdleMs]));
        if (Number(removed) === 1) {
          this.#logger.info('Removed a member of the group that had not read for longer than staleConsumerIdleMs and held no entries', {
            group: consumerGroup,
            consumer: name,
            idleMs: Number(member.idle),
          });
        }
      }
    } catch (error) {
      this.#logger.debug('Could not look for stale members of the group', { error: redact(errorMessage(error)) });
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
      // An id from before the reader reconnected may belong to another client by now: never unblock by it.
      const staleId = this.#readerIdEpoch !== this.#connections.readerEpoch;
      if (this.#readerId === undefined || staleId || !this.#canUnblock || this.#connections.isCluster || this.#connections.commands.status !== 'ready') break;
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

  /**
   * `work`, or undefined as soon as stop() is called: nothing a source waits for may hold up a
   * stop, whatever Redis does (ioredis keeps commands queued through an outage, and disconnect()
   * does not reject them while it is between reconnect attempts). What `work` yields after the
   * stop goes to `late` (to hand claimed entries back); its error is dropped.
   */
  async #untilStopped<T>(work: Promise<T>, late?: (value: T) => Promise<void>): Promise<T | undefined> {
    if (this.#stopping) {
      work.then(late, () => undefined).catch(() => undefined);
      return undefined;
    }
    const stopped = this.#stopped.then(() => STOPPED);
    const result = await Promise.race([work, stopped]);
    if (result !== STOPPED) return result as T;
    work.then(late, () => undefined).catch(() => undefined);
    return undefined;
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

const STOPPED: unique symbol = Symbol('stopped');

function setupHint(message: string, stream: string): string {
  if (message.startsWith('NOPERM')) {
    return `Grant the Redis user the stream commands (XGROUP, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM, XPENDING, XINFO, EVALSHA) on the bus's keys, then call startConsuming() again.`;
  }
  if (message.startsWith('WRONGTYPE')) return `The key ${stream} exists and is not a stream: choose another streamPrefix or delete that key.`;
  return 'Fix the cause, then call startConsuming() again.';
}
