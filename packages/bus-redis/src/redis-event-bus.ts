import { BrokerEventBusBase } from '@eventsource/core/transport';
import { resolveConfig, type RedisEventBusOptions, type ResolvedConfig } from './config.js';
import { RedisAdapter } from './redis-adapter.js';
import type { RedisDelivery } from './settle.js';
import type { RedisEventBusStats } from './stats.js';
import { honestLag, pairs, trimmedBeforeRead } from './stream-info.js';

/** What `getStreamInfo()` returns. */
export interface RedisStreamInfo {
  readonly stream: string;
  /** Entries in the stream now (after trimming). */
  readonly length: number;
  readonly groups: ReadonlyArray<{
    readonly name: string;
    readonly consumers: number;
    /** Entries read by the group and not yet acknowledged. */
    readonly pending: number;
    readonly lastDeliveredId: string;
    /**
     * Entries in the stream not yet read by the group: Redis 7's counter, but 0 once the group
     * has read the newest entry and never more than the stream's length (Redis keeps counting
     * trimmed entries the group skipped). null when Redis cannot tell (before 7.0, or entries were
     * deleted past the group's position). Entries trimmed before the group read them are not in
     * it: see `trimmedBeforeRead`.
     */
    readonly lag: number | null;
    /**
     * Entries trimmed (or deleted) from the stream before this group read them, while the group
     * has not yet read past the gap; 0 when none; null when Redis cannot tell. Nonzero means
     * the group lost events: raise maxLen / maxAgeMs.
     */
    readonly trimmedBeforeRead: number | null;
  }>;
  /** Members of this bus's group. */
  readonly consumers: ReadonlyArray<{ readonly name: string; readonly pending: number; readonly idleMs: number }>;
  readonly consumerGroup: string;
  /** This group's entries read and not yet acknowledged. */
  readonly pendingMessages: number;
  /** This group's retries waiting for their time. */
  readonly scheduledRetries: number;
  readonly dlqStream: string;
  readonly dlqMessages: number;
}

/**
 * Redis Streams transport. Every event goes to one stream, `{streamPrefix}:stream`; each consumer
 * group gets every event and its members share them. Delivery is at-least-once: an entry is
 * acknowledged only after its handlers succeeded, or after its retry or dead letter is written.
 *
 * ```ts
 * const bus = new RedisEventBus({ redisUrl: 'redis://localhost:6379', streamPrefix: 'myapp', consumerGroup: 'order-service' });
 * await bus.connect();
 * bus.subscribe(OrderCreated, orderHandler);
 * bus.startConsumingInBackground();
 * await bus.publish([event]);
 * await bus.shutdown();
 * ```
 */
export class RedisEventBus extends BrokerEventBusBase<RedisDelivery> {
  readonly config: ResolvedConfig;
  readonly #adapter: RedisAdapter;

  constructor(options: RedisEventBusOptions = {}) {
    const config = resolveConfig(options);
    let adapter: RedisAdapter | undefined;
    super(options, (kit) => (adapter = new RedisAdapter(options, config, kit)), { queueCapacity: config.batchSize });
    this.config = config;
    this.#adapter = adapter!;
  }

  override getStats(): RedisEventBusStats {
    return { ...this.kitStats(), ...this.#adapter.counters };
  }

  /** Stream length, groups and their consumers, this group's pending entries, retries and dead letters. */
  getStreamInfo(): Promise<RedisStreamInfo> {
    return this.admin('getStreamInfo', async () => {
      const client = this.#adapter.connections.commands;
      const { keys, consumerGroup } = this.config;
      const [length, streamRaw, groupsRaw, consumersRaw, scheduledRetries, dlqMessages] = await Promise.all([
        client.call('XLEN', [keys.stream]).then(Number),
        client.call('XINFO', ['STREAM', keys.stream]).catch(() => []),
        client.call('XINFO', ['GROUPS', keys.stream]).catch(() => []),
        client.call('XINFO', ['CONSUMERS', keys.stream, consumerGroup]).catch(() => []),
        client.call('ZCARD', [keys.retrySchedule]).then(Number),
        client.call('XLEN', [keys.dlq]).then(Number),
      ]);
      const stream = pairs(streamRaw);
      const groups = (groupsRaw as unknown[]).map((raw) => {
        const g = pairs(raw);
        return {
          name: String(g.name),
          consumers: Number(g.consumers ?? 0),
          pending: Number(g.pending ?? 0),
          lastDeliveredId: String(g['last-delivered-id'] ?? ''),
          lag: honestLag(stream, g, length),
          trimmedBeforeRead: trimmedBeforeRead(stream, g) ?? null,
        };
      });
      const consumers = (consumersRaw as unknown[]).map((raw) => {
        const c = pairs(raw);
        return { name: String(c.name), pending: Number(c.pending ?? 0), idleMs: Number(c.idle ?? 0) };
      });
      return {
        stream: keys.stream,
        length,
        groups,
        consumers,
        consumerGroup,
        pendingMessages: groups.find((g) => g.name === consumerGroup)?.pending ?? 0,
        scheduledRetries,
        dlqStream: keys.dlq,
        dlqMessages,
      };
    });
  }
}
