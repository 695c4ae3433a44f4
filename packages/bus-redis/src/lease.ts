import type { Logger } from '@eventsource/core';
import { Claim, errorMessage, redact, type DeliverySink } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Connections } from './connection.js';
import { KEEP_ALIVE, TOUCH_RETRIES, runScript } from './scripts.js';
import { tokenOf, type RedisDelivery } from './settle.js';

const LAPSED = 'not started within the reclaim window';

/**
 * A fetch's claim, lost from its deadline on even before its timer has run: when a stall of the
 * event loop ends, whatever runs before the timers (a reply read in the same turn, a handler slot
 * freed) may push or start entries another member has taken over by then.
 */
class FetchClaim extends Claim {
  readonly #deadline: number;

  constructor(label: string, deadline: number) {
    super(label);
    this.#deadline = deadline;
  }

  override get lost(): boolean {
    if (Date.now() >= this.#deadline) this.revoke(LAPSED);
    return super.lost;
  }
}

/**
 * This consumer's hold on the entries it fetched. Started entries are kept alive (their idle time
 * reset, retries' visibility pushed out) every quarter of `reclaimIdleMs`, so no other member
 * reclaims work still in progress; the keep-alive succeeds only for entries still pending for this
 * consumer and retries still held under their hand-out token, so after a stall it never takes
 * work back from the member that took it over. Entries fetched but not started are not kept
 * alive: each fetch gets a claim that lapses before `reclaimIdleMs`, and the pump never starts an
 * entry whose claim has lapsed (another member may have reclaimed it by then). When keep-alives
 * fail for longer than the reclaim window (a stalled event loop, a partition), every claim is
 * revoked.
 */
export class Lease {
  readonly #connections: Connections;
  readonly #config: ResolvedConfig;
  readonly #logger: Logger;
  readonly #live = new Set<Claim>();
  #sink: DeliverySink<RedisDelivery> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRenewal = Date.now();
  #current: Claim | undefined;
  #currentSince = 0;
  #running = false;

  readonly #handBack: (deliveries: readonly RedisDelivery[]) => Promise<void>;

  constructor(connections: Connections, config: ResolvedConfig, logger: Logger, handBack: (deliveries: readonly RedisDelivery[]) => Promise<void>) {
    this.#connections = connections;
    this.#config = config;
    this.#logger = logger;
    this.#handBack = handBack;
  }

  start(sink: DeliverySink<RedisDelivery>): void {
    this.#sink = sink;
    this.#running = true;
    this.#lastRenewal = Date.now();
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.#renew(), this.#config.keepAliveIntervalMs);
  }

  stop(): void {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const claim of this.#live) this.#lapse(claim, 'consumer stopped');
  }

  /**
   * The claim for entries fetched now. It lapses at three quarters of reclaimIdleMs after the
   * first fetch under it: by then a member's reclaim may take over entries never started here, so
   * none of them may start. Fetches within one keep-alive interval share a claim (a few timers,
   * not one per fetch).
   */
  claimForFetch(): Claim {
    if (!this.#running) {
      // A fetch that completes after stopping: none of it may start here.
      const late = new Claim('fetched after the consumer stopped');
      late.revoke('consumer stopped');
      return late;
    }
    const now = Date.now();
    if (this.#current && !this.#current.lost && now - this.#currentSince < this.#config.keepAliveIntervalMs) return this.#current;
    const lapseMs = Math.floor(this.#config.reclaimIdleMs * 0.75);
    const claim = new FetchClaim(`fetches from ${new Date(now).toISOString()}`, now + lapseMs);
    this.#current = claim;
    this.#currentSince = now;
    this.#live.add(claim);
    const timer = setTimeout(() => this.#lapse(claim, LAPSED), lapseMs);
    timer.unref();
    return claim;
  }

  /** Gives never-started entries back to the group (best effort: otherwise they are reclaimed after reclaimIdleMs). */
  async handBack(deliveries: readonly RedisDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.#handBack(deliveries).catch((error: unknown) =>
      this.#logger.debug('Could not hand back entries; they are reclaimed after reclaimIdleMs', { error: redact(errorMessage(error)) }),
    );
  }

  /**
   * Revokes the claim. Its never-started entries are handed back (no delivery counted), so a
   * member with free hands takes them at its next reclaim.
   */
  #lapse(claim: Claim, reason: string): void {
    if (!this.#live.delete(claim)) return;
    claim.revoke(reason);
    void this.handBack(this.#sink?.fence(claim) ?? []);
  }

  /**
   * Retries this consumer works on were claimed by another member: it stalled past their
   * visibility timeout. Their claims are revoked, so the kit starts none of their batchmates
   * (suspects waiting for their start to be recorded included) and hands the queued ones back.
   */
  #retriesLost(batch: readonly RedisDelivery[], lost: ReadonlySet<string>): void {
    const mine = batch.filter((delivery) => lost.has(delivery.id));
    this.#logger.warn('Retries still running here were claimed by another member (this consumer stalled past reclaimIdleMs); they may be handled twice', {
      count: mine.length,
      ids: mine.slice(0, 20).map((delivery) => delivery.id),
    });
    for (const claim of new Set(mine.map((delivery) => delivery.claim))) this.#lapse(claim, 'a retry it covers was claimed by another member');
  }

  async #renew(): Promise<void> {
    const sink = this.#sink;
    if (!sink) return;
    if (Date.now() - this.#lastRenewal > this.#config.reclaimIdleMs) {
      // Another member may already have taken over what we hold: start none of it.
      this.#logger.warn('Could not keep in-flight entries alive for longer than reclaimIdleMs; entries not yet started are left to be reclaimed', {
        stream: this.#config.keys.stream,
      });
      for (const claim of [...this.#live]) this.#lapse(claim, 'keep-alive failed for longer than reclaimIdleMs');
    }
    const streamIds: string[] = [];
    const retries: RedisDelivery[] = [];
    for (const delivery of sink.inProgress()) {
      if (delivery.source === 'stream') streamIds.push(delivery.id);
      else retries.push(delivery);
    }
    if (streamIds.length === 0 && retries.length === 0) {
      this.#lastRenewal = Date.now();
      return;
    }
    const { keys, consumerGroup, consumerName, reclaimIdleMs } = this.#config;
    const client = this.#connections.commands;
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < streamIds.length; i += 500) {
      work.push(
        runScript(client, KEEP_ALIVE, [keys.stream], [consumerGroup, consumerName, ...streamIds.slice(i, i + 500)]).then((lost) => {
          if (Array.isArray(lost) && lost.length > 0) {
            this.#logger.warn('Entries still running here were taken over by another member (this consumer stalled past reclaimIdleMs); they may be handled twice', {
              count: lost.length,
              ids: (lost as unknown[]).slice(0, 20).map(String),
            });
          }
        }),
      );
    }
    for (let i = 0; i < retries.length; i += 500) {
      const batch = retries.slice(i, i + 500);
      work.push(
        runScript(client, TOUCH_RETRIES, [keys.retrySchedule, keys.retryData], [reclaimIdleMs, ...batch.flatMap((d) => [d.id, tokenOf(d)])]).then((lost) => {
          if (Array.isArray(lost) && lost.length > 0) this.#retriesLost(batch, new Set((lost as unknown[]).map(String)));
        }),
      );
    }
    try {
      await Promise.all(work);
      this.#lastRenewal = Date.now();
    } catch (error) {
      this.#logger.debug('Keep-alive of in-flight entries failed', { error: redact(errorMessage(error)) });
    }
  }
}
