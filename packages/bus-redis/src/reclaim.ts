import type { Claim } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Client } from './connection.js';
import { fieldsToMessage, parseEntries, type Field } from './entry.js';
import { streamDelivery, type RedisDelivery } from './settle.js';

export interface ReclaimResult {
  /** Entries now owned by this consumer, with how often Redis has handed each out. */
  readonly deliveries: RedisDelivery[];
  /** Pending entries whose data was trimmed away before anyone acknowledged them. */
  readonly trimmed: string[];
}

/**
 * Takes over entries that another member of the group read and then abandoned (it crashed, or
 * lost its connection for longer than `reclaimIdleMs`). XAUTOCLAIM only moves entries idle for
 * at least that long, and live consumers keep their started entries' idle time near zero
 * (the Lease), so work still in progress is never taken away.
 */
export class Reclaimer {
  readonly #config: ResolvedConfig;
  #cursor = '0-0';

  constructor(config: ResolvedConfig) {
    this.#config = config;
  }

  async reclaim(client: Client, count: number, owned: ReadonlySet<string>, claim: Claim): Promise<ReclaimResult> {
    const { keys, consumerGroup, consumerName, reclaimIdleMs } = this.#config;
    const reply = (await client.callBuffer('XAUTOCLAIM', [
      keys.stream,
      consumerGroup,
      consumerName,
      String(reclaimIdleMs),
      this.#cursor,
      'COUNT',
      String(count),
    ])) as unknown[];
    this.#cursor = reply[0] === undefined || reply[0] === null ? '0-0' : String(reply[0]);
    const entries = parseEntries(reply[1]);
    // Redis >= 7 lists trimmed entries separately (and drops them from the pending list);
    // 6.2 returns them as entries without fields, still pending.
    const trimmed = Array.isArray(reply[2]) ? (reply[2] as unknown[]).map(String) : [];
    const stale = entries.filter((e) => e.fields === null).map((e) => e.id);
    if (stale.length > 0) {
      await client.call('XACK', [keys.stream, consumerGroup, ...stale]);
      trimmed.push(...stale);
    }
    const live = entries.filter((e): e is { id: string; fields: Field[] } => e.fields !== null && !owned.has(e.id));
    if (live.length === 0) return { deliveries: [], trimmed };

    const counts = await deliveryCounts(client, this.#config, live.map((e) => e.id), owned.size);
    return {
      deliveries: live.map((e) => streamDelivery(e.id, fieldsToMessage(e.fields, this.#config.maxEntryBytes), counts.get(e.id) ?? 2, claim)),
      trimmed,
    };
  }
}

/**
 * How often Redis has handed out each of `ids` (all pending for this consumer, ascending). Neither
 * XAUTOCLAIM nor a history read says so; XPENDING over their id range does.
 */
export async function deliveryCounts(
  client: Client,
  config: ResolvedConfig,
  ids: readonly string[],
  alsoOwned: number,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (ids.length === 0) return counts;
  const pending = (await client.call('XPENDING', [
    config.keys.stream,
    config.consumerGroup,
    ids[0]!,
    ids[ids.length - 1]!,
    String(ids.length + alsoOwned + 1),
    config.consumerName,
  ])) as unknown[];
  for (const row of pending) {
    if (Array.isArray(row) && typeof row[0] === 'string') counts.set(row[0], Number(row[3]));
  }
  return counts;
}
