import type { ResolvedConfig } from './config.js';
import type { Client } from './connection.js';
import { fieldsToMessage, parseEntries } from './entry.js';
import { TOUCH_RETRIES, runScript } from './scripts.js';
import type { Delivery } from './settle.js';

export interface ReclaimResult {
  /** Entries now owned by this consumer, with how often Redis has handed each out. */
  readonly deliveries: Delivery[];
  /** Pending entries whose data was trimmed away before anyone acknowledged them. */
  readonly trimmed: string[];
}

/**
 * Takes over entries that another member of the group read and then abandoned (it crashed, or
 * lost its connection for longer than `reclaimIdleMs`). XAUTOCLAIM only moves entries idle for
 * at least that long, and live consumers keep their in-flight entries' idle time near zero
 * ({@link keepAlive}), so work still in progress is never taken away.
 */
export class Reclaimer {
  readonly #config: ResolvedConfig;
  #cursor = '0-0';

  constructor(config: ResolvedConfig) {
    this.#config = config;
  }

  async reclaim(client: Client, count: number, owned: ReadonlySet<string>): Promise<ReclaimResult> {
    const { keys, consumerGroup, consumerName, reclaimIdleMs } = this.#config;
    const reply = (await client.call('XAUTOCLAIM', [
      keys.stream,
      consumerGroup,
      consumerName,
      String(reclaimIdleMs),
      this.#cursor,
      'COUNT',
      String(count),
    ])) as unknown[];
    this.#cursor = typeof reply[0] === 'string' ? reply[0] : '0-0';
    const entries = parseEntries(reply[1]);
    // Redis >= 7 lists trimmed entries separately (and drops them from the pending list);
    // 6.2 returns them as entries without fields, still pending.
    const trimmed = Array.isArray(reply[2]) ? reply[2].map(String) : [];
    const stale = entries.filter((e) => e.fields === null).map((e) => e.id);
    if (stale.length > 0) {
      await client.call('XACK', [keys.stream, consumerGroup, ...stale]);
      trimmed.push(...stale);
    }
    const live = entries.filter((e): e is { id: string; fields: string[] } => e.fields !== null && !owned.has(e.id));
    if (live.length === 0) return { deliveries: [], trimmed };

    const counts = await deliveryCounts(client, this.#config, live.map((e) => e.id), owned.size);
    return {
      deliveries: live.map((e) => ({
        source: 'stream' as const,
        id: e.id,
        message: fieldsToMessage(e.fields),
        deliveries: counts.get(e.id) ?? 2,
      })),
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

/**
 * Marks entries this consumer is still working on as fresh: XCLAIM … JUSTID to itself resets an
 * entry's idle time without counting a delivery, and retries get their visibility timeout pushed
 * out again. Runs at a quarter of `reclaimIdleMs`, so a slow handler is never mistaken for a dead one.
 */
export async function keepAlive(
  client: Client,
  config: ResolvedConfig,
  streamIds: readonly string[],
  retryIds: readonly string[],
): Promise<void> {
  const { keys, consumerGroup, consumerName, reclaimIdleMs } = config;
  const work: Array<Promise<unknown>> = [];
  for (let i = 0; i < streamIds.length; i += 500) {
    work.push(client.call('XCLAIM', [keys.stream, consumerGroup, consumerName, '0', ...streamIds.slice(i, i + 500), 'JUSTID']));
  }
  for (let i = 0; i < retryIds.length; i += 500) {
    work.push(runScript(client, TOUCH_RETRIES, [keys.retrySchedule], [reclaimIdleMs, ...retryIds.slice(i, i + 500)]));
  }
  await Promise.all(work);
}
