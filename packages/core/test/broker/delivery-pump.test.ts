import { describe, expect, it } from 'vitest';
import { deferred, nextTurn, type Deferred } from '@eventsource/testkit';
import { Claim, DeliveryPump, type Delivery, type DeliveryPumpOptions } from '../../src/transport.js';

const home = new Claim('home');

function delivery(id: string, options: { key?: string; suspect?: boolean; deliveryCount?: number; claim?: Claim } = {}): Delivery & { key?: string } {
  return {
    id,
    key: options.key,
    envelope: { body: '{}' },
    deliveryCount: options.deliveryCount ?? 1,
    suspect: options.suspect ?? false,
    claim: options.claim ?? home,
  };
}

type D = ReturnType<typeof delivery>;

/** A pump whose handler holds every delivery until the test releases it. */
class Harness {
  readonly started: string[] = [];
  readonly finished: string[] = [];
  readonly fenced: string[] = [];
  readonly pushed: string[] = [];
  readonly poisoned: Array<{ id: string; starts: number }> = [];
  readonly settling = new Set<D>();
  readonly forgotten: string[] = [];
  flushes = 0;
  readonly pump: DeliveryPump<D>;
  readonly #gates = new Map<string, Deferred>();
  /** Deliveries handled without a gate (they finish at once). */
  autoRelease = false;

  constructor(options: Partial<DeliveryPumpOptions<D>> = {}) {
    this.pump = new DeliveryPump<D>({
      maxInFlight: 10,
      capacity: 100,
      maxDeliveries: 3,
      orderingKey: (d) => d.key,
      handle: async (d) => {
        this.started.push(d.id);
        if (!this.autoRelease) await this.#gate(d.id).promise;
        this.finished.push(d.id);
      },
      poison: async (d, starts) => {
        this.poisoned.push({ id: d.id, starts });
      },
      settling: () => this.settling.values(),
      onFenced: (d) => this.fenced.push(d.id),
      onPushed: (d) => this.pushed.push(d.id),
      forgetLane: (lane) => this.forgotten.push(lane),
      flushSettlements: async () => {
        this.flushes++;
      },
      ...options,
    });
  }

  push(...deliveries: D[]): void {
    for (const d of deliveries) this.pump.push(d);
  }

  /** Lets `id`'s handler finish, then lets the pump react. */
  async release(...ids: string[]): Promise<void> {
    for (const id of ids) this.#gate(id).resolve();
    await nextTurn();
  }

  get running(): string[] {
    return this.started.filter((id) => !this.finished.includes(id));
  }

  #gate(id: string): Deferred {
    let gate = this.#gates.get(id);
    if (!gate) this.#gates.set(id, (gate = deferred()));
    return gate;
  }
}

describe('DeliveryPump: ordering keys', () => {
  it('runs deliveries of one key one at a time in arrival order while other keys run concurrently', async () => {
    const h = new Harness();
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a' }), delivery('b1', { key: 'b' }), delivery('a3', { key: 'a' }), delivery('b2', { key: 'b' }));
    await nextTurn();
    expect(h.running).toEqual(['a1', 'b1']);
    expect(h.pump.queued).toBe(3);

    await h.release('b1');
    expect(h.running).toEqual(['a1', 'b2']);
    await h.release('a1');
    expect(h.running).toEqual(['b2', 'a2']);
    await h.release('a2', 'b2');
    expect(h.running).toEqual(['a3']);
    await h.release('a3');
    expect(h.started).toEqual(['a1', 'b1', 'b2', 'a2', 'a3']);
    expect(h.started.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    await h.pump.whenIdle();
  });

  it('lets deliveries without a key and of other keys pass a busy key', async () => {
    const h = new Harness({ maxInFlight: 3 });
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a' }), delivery('a3', { key: 'a' }), delivery('x'), delivery('y'));
    await nextTurn();
    expect(h.running).toEqual(['a1', 'x', 'y']);
    await h.release('a1');
    expect(h.running).toEqual(['x', 'y', 'a2']);
  });

  it('never runs more than maxInFlight handlers at once', async () => {
    const h = new Harness({ maxInFlight: 2 });
    h.push(delivery('1'), delivery('2'), delivery('3'), delivery('4'));
    await nextTurn();
    expect(h.running).toEqual(['1', '2']);
    expect(h.pump.inFlight).toBe(2);
    expect(h.pump.queued).toBe(2);
    await h.release('2');
    expect(h.running).toEqual(['1', '3']);
    await h.release('1', '3');
    expect(h.running).toEqual(['4']);
    await h.release('4');
    await h.pump.whenIdle();
    expect(h.pump.inFlight).toBe(0);
  });

  it('frees a key once its queue runs dry, so a later delivery of that key starts at once', async () => {
    const h = new Harness();
    h.push(delivery('a1', { key: 'a' }));
    await h.release('a1');
    h.push(delivery('a2', { key: 'a' }));
    expect(h.running).toEqual(['a2']);
  });
});

describe('DeliveryPump: fencing', () => {
  it('never starts a delivery whose claim was lost before it was pushed', async () => {
    const h = new Harness();
    const lost = new Claim('old epoch');
    lost.revoke('keep-alive failed for longer than the reclaim window');
    h.push(delivery('1', { claim: lost }));
    await nextTurn();
    expect(h.started).toEqual([]);
    expect(h.fenced).toEqual(['1']);
    expect(h.pushed).toEqual(['1']);
    await h.pump.whenIdle();
  });

  it('fence(claim) drops the queued deliveries of that claim only and returns them', async () => {
    const h = new Harness({ maxInFlight: 1 });
    const revoked = new Claim('partition orders/1');
    h.push(delivery('running', { claim: revoked }), delivery('q1', { claim: revoked }), delivery('other'), delivery('q2', { claim: revoked }));
    revoked.revoke('partition revoked');
    expect(h.pump.fence(revoked).map((d) => d.id)).toEqual(['q1', 'q2']);
    expect(h.fenced).toEqual(['q1', 'q2']);
    expect(h.pump.queued).toBe(1);
    await h.release('running', 'other');
    expect(h.started).toEqual(['running', 'other']);
    await h.pump.whenIdle();
  });

  it('does not start a queued delivery whose claim was lost without fence(), and passes its key on', async () => {
    const h = new Harness({ maxInFlight: 1 });
    const revoked = new Claim('channel 2');
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a', claim: revoked }), delivery('a3', { key: 'a' }));
    revoked.revoke('channel closed');
    await h.release('a1');
    expect(h.fenced).toEqual(['a2']);
    expect(h.running).toEqual(['a3']);
  });

  it('a fenced successor in the backlog releases its key for the next delivery of that key', async () => {
    const h = new Harness();
    const revoked = new Claim('orders/0 generation 3');
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a', claim: revoked }));
    revoked.revoke('rebalance');
    expect(h.pump.fence(revoked).map((d) => d.id)).toEqual(['a2']);
    await h.release('a1');
    h.push(delivery('a3', { key: 'a' }));
    expect(h.running).toEqual(['a3']);
  });

  it('a fenced successor already next in line for its key releases the key', async () => {
    // a2 becomes "next" of key a when a1 finishes, but a suspect takes the free slot first.
    const h = new Harness({ maxInFlight: 2 });
    const revoked = new Claim('orders/0 generation 3');
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a', claim: revoked }), delivery('b1'));
    h.push(delivery('s1', { suspect: true }));
    await h.release('a1');
    expect(h.running).toEqual(['b1', 's1']);
    revoked.revoke('rebalance');
    expect(h.pump.fence(revoked).map((d) => d.id)).toEqual(['a2']);
    h.push(delivery('a3', { key: 'a' }));
    await h.release('b1');
    expect(h.running).toEqual(['s1', 'a3']);
  });

  it('does not start a queued suspect whose claim was lost without fence()', async () => {
    const h = new Harness();
    const claim = new Claim('epoch 2');
    h.push(delivery('s1', { suspect: true }), delivery('s2', { suspect: true, claim }));
    claim.revoke('keep-alive lost');
    await h.release('s1');
    expect(h.started).toEqual(['s1']);
    expect(h.fenced).toEqual(['s2']);
    await h.pump.whenIdle();
  });

  it('does not start a suspect whose claim is lost while its start is being recorded', async () => {
    const recorded = deferred<number>();
    const h = new Harness({ recordStart: () => recorded.promise });
    const claim = new Claim('epoch 4');
    h.push(delivery('s1', { suspect: true, claim, deliveryCount: 1 }));
    claim.revoke('keep-alive lost');
    recorded.resolve(1);
    await nextTurn();
    expect(h.started).toEqual([]);
    expect(h.fenced).toEqual(['s1']);
    await h.pump.whenIdle();
  });

  it('does not dead-letter a suspect past maxDeliveries whose claim is lost: another consumer holds it now', async () => {
    const recorded = deferred<number>();
    const h = new Harness({ recordStart: () => recorded.promise, maxDeliveries: 2 });
    const claim = new Claim('epoch 5');
    h.push(delivery('s1', { suspect: true, claim }));
    claim.revoke('keep-alive lost');
    recorded.resolve(7);
    await nextTurn();
    expect(h.poisoned).toEqual([]);
    expect(h.fenced).toEqual(['s1']);
  });

  it('drops a long queue of fenced deliveries without growing the stack', async () => {
    const h = new Harness({ maxInFlight: 1 });
    const revoked = new Claim('epoch 1');
    h.push(delivery('first'));
    for (let i = 0; i < 20_000; i++) h.push(delivery(`q${i}`, { claim: revoked }));
    revoked.revoke('lease lost');
    await h.release('first');
    expect(h.fenced).toHaveLength(20_000);
    await h.pump.whenIdle();
  });
});

describe('DeliveryPump: poison isolation', () => {
  it('runs suspects one at a time while ordinary deliveries keep running beside them', async () => {
    const h = new Harness();
    h.push(delivery('s1', { suspect: true }), delivery('s2', { suspect: true }), delivery('n1'), delivery('s3', { suspect: true }), delivery('n2'));
    await nextTurn();
    expect(h.running.sort()).toEqual(['n1', 'n2', 's1']);
    await h.release('s1');
    expect(h.running.sort()).toEqual(['n1', 'n2', 's2']);
    await h.release('s2');
    expect(h.running.sort()).toEqual(['n1', 'n2', 's3']);
  });

  it('with recordStart, dead-letters only the suspect started more than maxDeliveries times; its batchmates are handled', async () => {
    const starts = new Map<string, number>([
      ['killer', 3],
      ['innocent-1', 0],
      ['innocent-2', 0],
    ]);
    const h = new Harness({
      maxDeliveries: 3,
      recordStart: async (d) => {
        const count = (starts.get(d.id) ?? 0) + 1;
        starts.set(d.id, count);
        return count;
      },
    });
    h.autoRelease = true;
    // The broker handed all three out many times (deliveryCount), but only one kept being started.
    h.push(
      delivery('innocent-1', { suspect: true, deliveryCount: 9 }),
      delivery('killer', { suspect: true, deliveryCount: 9 }),
      delivery('innocent-2', { suspect: true, deliveryCount: 9 }),
    );
    await h.pump.whenIdle();
    expect(h.poisoned).toEqual([{ id: 'killer', starts: 4 }]);
    expect(h.finished).toEqual(['innocent-1', 'innocent-2']);
  });

  it('without recordStart, uses the broker delivery count', async () => {
    const h = new Harness({ maxDeliveries: 3 });
    h.autoRelease = true;
    h.push(delivery('s1', { suspect: true, deliveryCount: 3 }), delivery('s2', { suspect: true, deliveryCount: 4 }));
    await h.pump.whenIdle();
    expect(h.finished).toEqual(['s1']);
    expect(h.poisoned).toEqual([{ id: 's2', starts: 4 }]);
  });

  it('falls back to the delivery count when recording a start fails', async () => {
    const h = new Harness({ maxDeliveries: 2, recordStart: () => Promise.reject(new Error('hash write failed')) });
    h.autoRelease = true;
    h.push(delivery('s1', { suspect: true, deliveryCount: 2 }), delivery('s2', { suspect: true, deliveryCount: 5 }));
    await h.pump.whenIdle();
    expect(h.finished).toEqual(['s1']);
    expect(h.poisoned).toEqual([{ id: 's2', starts: 5 }]);
  });

  it('ordinary deliveries are never counted against maxDeliveries', async () => {
    const h = new Harness({ maxDeliveries: 1, recordStart: () => Promise.resolve(99) });
    h.autoRelease = true;
    h.push(delivery('n1', { deliveryCount: 50 }));
    await h.pump.whenIdle();
    expect(h.finished).toEqual(['n1']);
    expect(h.poisoned).toEqual([]);
  });
});

describe('DeliveryPump: the sink and the kit side', () => {
  it('has space while at most half the capacity is queued, and wakes a waiting source when it has again', async () => {
    const h = new Harness({ maxInFlight: 1, capacity: 4 });
    h.push(delivery('1'), delivery('2'), delivery('3'));
    expect(h.pump.queued).toBe(2);
    expect(h.pump.hasSpace).toBe(true);
    h.push(delivery('4'));
    expect(h.pump.hasSpace).toBe(false);
    let woke = false;
    const waiting = h.pump.waitForSpace().then(() => (woke = true));
    await nextTurn();
    expect(woke).toBe(false);
    await h.release('1');
    await waiting;
    expect(h.pump.queued).toBe(2);
    await expect(h.pump.waitForSpace()).resolves.toBeUndefined();
  });

  it('wakes a waiting source when stopping, and stays stopping until reset', async () => {
    const h = new Harness({ maxInFlight: 1, capacity: 2 });
    h.push(delivery('1'), delivery('2'), delivery('3'));
    const waiting = h.pump.waitForSpace();
    h.pump.stop();
    await waiting;
    expect(h.pump.stopping).toBe(true);
    await expect(h.pump.waitForSpace()).resolves.toBeUndefined();
    h.pump.reset();
    expect(h.pump.stopping).toBe(false);
  });

  it('reports started and the current problem with when it began, until started again', () => {
    const h = new Harness();
    expect(h.pump.isStarted).toBe(false);
    h.pump.problem('NOGROUP: the consumer group was deleted');
    const first = h.pump.currentProblem;
    expect(first?.description).toBe('NOGROUP: the consumer group was deleted');
    h.pump.problem('still failing');
    expect(h.pump.currentProblem).toEqual({ description: 'still failing', since: first?.since });
    h.pump.started();
    expect(h.pump.isStarted).toBe(true);
    expect(h.pump.currentProblem).toBeUndefined();
    h.pump.stop();
    expect(h.pump.isStarted).toBe(false);
  });

  it('passes forgetLane and flushSettlements on to the settlement side', async () => {
    const h = new Harness();
    h.pump.forgetLane('orders/3');
    await h.pump.flushSettlements();
    expect(h.forgotten).toEqual(['orders/3']);
    expect(h.flushes).toBe(1);
  });

  it('lists running and still-settling deliveries as in progress', async () => {
    const h = new Harness();
    const settling = delivery('acking');
    h.settling.add(settling);
    h.push(delivery('running'));
    expect([...h.pump.inProgress()].map((d) => d.id)).toEqual(['running', 'acking']);
  });

  it('takeQueued returns every never-started delivery, and their keys are free again', async () => {
    const h = new Harness({ maxInFlight: 2 });
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a' }), delivery('b1', { key: 'b' }), delivery('c'), delivery('s', { suspect: true }));
    expect(h.running).toEqual(['a1', 'b1']);
    const taken = h.pump.takeQueued().map((d) => d.id);
    expect(taken.sort()).toEqual(['a2', 'c', 's']);
    expect(h.pump.queued).toBe(0);
    await h.release('a1', 'b1');
    h.push(delivery('a3', { key: 'a' }));
    expect(h.running).toEqual(['a3']);
  });

  it('takeQueued frees the key of a delivery that was next in line for it', async () => {
    const h = new Harness({ maxInFlight: 2 });
    h.push(delivery('a1', { key: 'a' }), delivery('a2', { key: 'a' }), delivery('b1'), delivery('s1', { suspect: true }));
    await h.release('a1');
    expect(h.running).toEqual(['b1', 's1']);
    expect(h.pump.takeQueued().map((d) => d.id)).toEqual(['a2']);
    await h.release('b1');
    h.push(delivery('a3', { key: 'a' }));
    expect(h.running).toEqual(['s1', 'a3']);
  });

  it('whenIdle resolves once nothing is queued or running', async () => {
    const h = new Harness({ maxInFlight: 1 });
    await h.pump.whenIdle();
    h.push(delivery('1'), delivery('2'));
    let idle = false;
    const waiting = h.pump.whenIdle().then(() => (idle = true));
    await h.release('1');
    expect(idle).toBe(false);
    await h.release('2');
    await waiting;
    expect(idle).toBe(true);
  });
});
