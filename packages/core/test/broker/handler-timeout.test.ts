import { describe, expect, it } from 'vitest';
import { deferred } from '@eventsource/testkit';
import { HEADER } from '../../src/index.js';
import { METRIC_NAMES } from '../../src/tracing/metrics.js';
import { OrderPlaced, RecordingMetrics, consuming, newBus, placed, soon } from './kit-fixtures.js';

describe('handler timeout on a broker bus', () => {
  it('fails a hung attempt into the retry policy, reports the handler stuck until it settles, and blocks no other message', async () => {
    const metrics = new RecordingMetrics();
    const { bus } = newBus({ handlerTimeoutMs: 20, maxInFlight: 1, metrics });
    const hung = deferred();
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => {
      seen.push(event.n);
      return event.n === 1 ? hung.promise : undefined;
    });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: 'hung' }), bus.fake.delivery(placed(2), { id: 'next' }));

    await soon(() => expect(bus.fake.acks.flat().sort()).toEqual(['hung', 'next']));
    expect(bus.fake.log[0]).toBe('retry:hung');
    expect(seen).toEqual([1, 2]);
    expect(bus.fake.retries[0]!.write.headers[HEADER.lastError]).toContain('within 20 ms (handlerTimeoutMs)');
    expect(metrics.named(METRIC_NAMES.retries)[0]!.attributes?.['error.type']).toBe('HandlerTimeoutError');
    expect(metrics.named(METRIC_NAMES.handlerErrors)[0]!.attributes?.['error.type']).toBe('HandlerTimeoutError');
    expect(bus.health()).toMatchObject({ healthy: false, stuckHandlers: 1, lastError: '1 handler(s) running past handlerTimeoutMs' });
    expect(bus.getStats()).toMatchObject({ handlerTimeouts: 1, handlerErrors: 1, eventsRetried: 1, eventsProcessed: 1 });

    hung.resolve();
    await soon(() => expect(bus.health()).toMatchObject({ healthy: true, stuckHandlers: 0 }));
  });

  it("applies a subscription's own handlerTimeoutMs over the bus's", async () => {
    const { bus } = newBus({ handlerTimeoutMs: 60_000 });
    const never = new Promise<void>(() => undefined);
    bus.subscribe(OrderPlaced, () => never, { handlerTimeoutMs: 10 });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.log).toEqual(['retry:1-0', 'ack:1-0']));
    expect(bus.fake.retries[0]!.write.headers[HEADER.lastError]).toContain('within 10 ms');
  });

  it('dead-letters with errorType HandlerTimeoutError once retries are spent', async () => {
    const { bus } = newBus({ handlerTimeoutMs: 10, maxRetries: 0 });
    bus.subscribe(OrderPlaced, () => new Promise<void>(() => undefined));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.deadLettered).toHaveLength(1));
    expect(bus.fake.deadLettered[0]!.write.info).toMatchObject({ reason: 'retries_disabled', errorType: 'HandlerTimeoutError' });
  });
});
