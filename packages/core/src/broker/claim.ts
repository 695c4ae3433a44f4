/**
 * A consumer's claim on the messages it holds: one per Redis consumer epoch, per AMQP channel, per
 * Kafka partition assignment. The adapter revokes it when the broker may already be handing those
 * messages to someone else (a lease that could not be renewed in time, a closed channel, a revoked
 * partition); from then on the pump starts none of them. Checking it is a property read, so the
 * fencing guard costs nothing per message.
 */
export class Claim {
  #lostBecause: string | undefined;

  /** `label` names the claim in logs, e.g. `channel 3` or `orders/2 (generation 7)`. */
  constructor(readonly label: string) {}

  get lost(): boolean {
    return this.#lostBecause !== undefined;
  }

  /** Why it was lost, for logs. */
  get lostBecause(): string | undefined {
    return this.#lostBecause;
  }

  /** Marks the claim lost. Idempotent: the first reason is kept. */
  revoke(reason: string): void {
    this.#lostBecause ??= reason;
  }
}
