import { describe, expect, it } from 'vitest';
import { RecordingTracer, deferred, nextTurn } from '@eventsource/testkit';
import {
  BusClosedError,
  ConfigError,
  DlqMessageNotFoundError,
  HEADER,
  NotConnectedError,
  PublishError,
  TransportError,
  type DomainEvent,
} from '../../src/index.js';
import { METRIC_NAMES } from '../../src/tracing/metrics.js';
import { FakeBus, PermanentFault, TransientFault } from './fake-adapter.js';
import { OrderPlaced, RecordingMetrics, consuming, newBus, placed, registry, soon } from './kit-fixtures.js';

describe('BrokerEventBusBase: lifecycle', () => {
  it('refuses every call before connect() with NotConnectedError, and reports why it is unhealthy', async () => {
    const { bus } = newBus();
    await expect(bus.publish([placed(1)])).rejects.toBeInstanceOf(NotConnectedError);
    await expect(bus.publish([placed(1)], { background: true })).rejects.toBeInstanceOf(NotConnectedError);
    await expect(bus.startConsuming()).rejects.toBeInstanceOf(NotConnectedError);
    await expect(bus.getDlqMessages()).rejects.toBeInstanceOf(NotConnectedError);
    await expect(bus.getDlqMessageCount()).rejects.toBeInstanceOf(NotConnectedError);
    await expect(bus.replayAllDlqMessages()).rejects.toBeInstanceOf(NotConnectedError);
    await expect(bus.purgeDlq()).rejects.toBeInstanceOf(NotConnectedError);
    expect(bus.health()).toMatchObject({ healthy: false, connected: false, consuming: false, lastError: 'connect() has not been called' });
    expect(bus.fake.published).toEqual([]);
  });

  it('refuses every call after shutdown() with BusClosedError', async () => {
    const { bus } = newBus();
    await bus.connect();
    await expect(bus.shutdown(100)).resolves.toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(bus.fake.closedAt).toBeDefined();
    await expect(bus.connect()).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.publish([placed(1)])).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.startConsuming()).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.getDlqMessages({ count: 1 })).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.replayDlqMessage('1-0')).rejects.toBeInstanceOf(BusClosedError);
    expect(bus.health()).toMatchObject({ healthy: false, lastError: 'bus is shut down' });
  });

  it('wraps a connection failure in TransportError with credentials masked, and passes its own errors through', async () => {
    const { bus } = newBus();
    const cause = new Error('getaddrinfo ENOTFOUND amqps://orders:pa55@broker.internal');
    bus.fake.fail('connect', cause);
    const error = await bus.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toBe('Could not connect to fake: getaddrinfo ENOTFOUND amqps://orders:***@broker.internal');
    expect((error as Error).cause).toBe(cause);
    const own = new ConfigError('url', 'must be a redis:// URL');
    bus.fake.fail('connect', own);
    await expect(bus.connect()).rejects.toBe(own);
    await bus.connect();
    expect(bus.health().connected).toBe(true);
  });

  it('is healthy while connected and consuming, and says why when it is not', async () => {
    const { bus } = newBus();
    await bus.connect();
    expect(bus.health()).toEqual({ healthy: true, connected: true, consuming: false, stuckHandlers: 0 });
    await consuming(bus);
    expect(bus.health()).toEqual({ healthy: true, connected: true, consuming: true, stuckHandlers: 0 });
    bus.fake.sink.problem('NOGROUP: the consumer group was deleted');
    bus.fake.setConnection({ connected: false, lastError: 'ECONNREFUSED 127.0.0.1:6379', since: '2024-01-01T00:00:00.000Z' });
    expect(bus.health()).toMatchObject({ healthy: false, connected: false, lastError: 'ECONNREFUSED 127.0.0.1:6379', since: '2024-01-01T00:00:00.000Z' });
    bus.fake.setConnection({ connected: true });
    expect(bus.health()).toMatchObject({ healthy: true });
  });

  it('rejects startConsuming() with TransportError when the broker refuses for good, and health() says so', async () => {
    const { bus } = newBus();
    await bus.connect();
    bus.fake.fail('consume', new Error('ACCESS_REFUSED login with kafka://app:topsecret@kafka:9092 refused'));
    const error = await bus.startConsuming().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toContain('kafka://app:***@kafka:9092');
    expect((error as Error).message).not.toContain('topsecret');
    expect(bus.health()).toMatchObject({ healthy: false, consuming: false });
    expect(bus.health().lastError).toContain('ACCESS_REFUSED');
  });

  it('returns the running consumption when startConsuming() is called again', async () => {
    const { bus } = newBus();
    bus.subscribe(OrderPlaced, () => undefined);
    const { done } = await consuming(bus);
    void bus.startConsuming();
    await nextTurn();
    expect(bus.fake.consumeCalls).toBe(1);
    await bus.stopConsuming();
    await expect(done).resolves.toBeUndefined();
  });

  it('startConsuming() right after an un-awaited stopConsuming() waits for the stop, then consumes again', async () => {
    const { bus } = newBus();
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => void seen.push(event.n));
    const { done: first } = await consuming(bus);
    void bus.stopConsuming();
    const second = bus.startConsuming();
    await first;
    await bus.fake.whenConsuming();
    expect(bus.fake.consumeCalls).toBe(2);
    expect(bus.fake.stopSourcesCalls).toBe(1);
    expect(bus.health()).toMatchObject({ healthy: true, consuming: true });
    bus.fake.push(bus.fake.delivery(placed(7)));
    await soon(() => expect(seen).toEqual([7]));
    await bus.stopConsuming();
    await second;
  });

  it('resumes after stop and start: messages are handled again, acknowledged once each', async () => {
    const { bus } = newBus();
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => void seen.push(event.n));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await bus.stopConsuming();
    expect(bus.health().consuming).toBe(false);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(2), { id: '2-0' }));
    await soon(() => expect(bus.fake.acks.flat()).toEqual(['1-0', '2-0']));
    expect(seen).toEqual([1, 2]);
  });

  it('stopConsuming() lets running handlers finish and settles them before it resolves', async () => {
    const { bus } = newBus();
    const gate = deferred();
    bus.subscribe(OrderPlaced, () => gate.promise);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    let stopped = false;
    const stopping = bus.stopConsuming().then(() => (stopped = true));
    await nextTurn();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(bus.fake.acks).toEqual([['1-0']]);
  });

  it('warns once when consuming starts with no subscriptions', async () => {
    const { bus, logger } = newBus();
    await consuming(bus);
    await bus.stopConsuming();
    await consuming(bus);
    expect(logger.at('warn').filter((e) => e.message.startsWith('Consuming started with no subscriptions'))).toHaveLength(1);
  });

  it("refuses an adapter that declares a settlement it does not implement", () => {
    expect(() => new FakeBus({ registry }, { settlement: 'ack', withoutSettleMethod: true })).toThrow("declares settlement 'ack' but has no ack()");
    expect(() => new FakeBus({ registry }, { settlement: 'offset', withoutSettleMethod: true })).toThrow("declares settlement 'offset' but has no commit()");
  });

  it('reports every generic counter from getStats()', async () => {
    const { bus } = newBus();
    bus.fake.reconnections = 2;
    await bus.connect();
    await bus.publish([placed(1)], { background: true });
    await soon(() => expect(bus.getStats().backgroundTasksCompleted).toBe(1));
    expect(bus.getStats()).toEqual({
      eventsPublished: 1,
      publishTimeouts: 0,
      eventsConsumed: 0,
      eventsProcessed: 0,
      eventsFailed: 0,
      eventsRetried: 0,
      eventsDeadLettered: 0,
      eventsSkipped: 0,
      eventsDropped: 0,
      eventsFenced: 0,
      eventsHandedBack: 0,
      handlersInvoked: 0,
      handlerErrors: 0,
      handlerTimeouts: 0,
      reconnections: 2,
      backgroundTasksCreated: 1,
      backgroundTasksCompleted: 1,
    });
  });
});

describe('BrokerEventBusBase: deadline and hand-back', () => {
  it('shutdown(timeout) with a hung handler resolves undrained, hands back what never started and dead-letters nothing', async () => {
    const { bus, logger } = newBus({ maxInFlight: 1 });
    bus.subscribe(OrderPlaced, () => new Promise(() => undefined));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: 'hung' }), bus.fake.delivery(placed(2), { id: 'q1' }), bus.fake.delivery(placed(3), { id: 'q2' }));
    await expect(bus.shutdown(100)).resolves.toEqual({ drained: false, pendingBackgroundTasks: 0 });
    expect(bus.fake.handedBack).toEqual([['q1', 'q2']]);
    expect(bus.getStats()).toMatchObject({ eventsHandedBack: 2, eventsDeadLettered: 0, eventsProcessed: 0 });
    expect(bus.fake.deadLettered).toEqual([]);
    expect(bus.fake.acks).toEqual([]);
    expect(bus.fake.closedAt).toBeDefined();
    expect(logger.at('warn').map((e) => e.message)).toContain('Stopped at the deadline before every message was settled; the unsettled ones will be redelivered');
  });

  it('still closes when handing back fails, and logs it', async () => {
    const { bus, logger } = newBus({ maxInFlight: 1 });
    bus.fake.fail('handBack', new Error('channel closed'));
    bus.subscribe(OrderPlaced, () => new Promise(() => undefined));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1)), bus.fake.delivery(placed(2)));
    await expect(bus.shutdown(50)).resolves.toMatchObject({ drained: false });
    expect(logger.text).toContain('Could not hand back messages that never started');
    expect(bus.fake.closedAt).toBeDefined();
  });

  it('gives up a settlement write that keeps failing at the deadline: not drained, nothing dead-lettered or acknowledged', async () => {
    const { bus } = newBus();
    bus.fake.fail('writeRetry', new TransientFault('READONLY You can not write against a read only replica'), Infinity);
    bus.subscribe(OrderPlaced, () => Promise.reject(new Error('down')));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.callsOf('writeRetry')).toBeGreaterThan(1));
    await expect(bus.shutdown(100)).resolves.toMatchObject({ drained: false });
    const tries = bus.fake.callsOf('writeRetry');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(bus.fake.callsOf('writeRetry')).toBe(tries);
    expect(bus.fake.acks).toEqual([]);
    expect(bus.fake.deadLettered).toEqual([]);
    expect(bus.getStats()).toMatchObject({ eventsRetried: 0, eventsDeadLettered: 0 });
  });

  it('drains when everything settles before the deadline', async () => {
    const { bus } = newBus();
    bus.subscribe(OrderPlaced, () => undefined);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await expect(bus.shutdown(2000)).resolves.toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(bus.fake.acks).toEqual([['1-0']]);
    expect(bus.fake.handedBack).toEqual([]);
  });
});

describe('BrokerEventBusBase: dead-letter API', () => {
  async function withDeadLetter() {
    const t = newBus({ maxRetries: 0 });
    t.bus.subscribe(OrderPlaced, () => {
      throw new Error('declined');
    });
    await consuming(t.bus);
    t.bus.fake.push(t.bus.fake.delivery(placed(5), { id: '5-0' }));
    await soon(() => expect(t.bus.fake.deadLettered).toHaveLength(1));
    return t;
  }

  it('checks count: -1 and 1.5 are ConfigError naming count, 0 returns [] without asking the broker', async () => {
    const { bus } = newBus();
    await bus.connect();
    for (const count of [-1, 1.5, Number.NaN]) {
      const error = await bus.getDlqMessages({ count }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe('count');
    }
    await expect(bus.getDlqMessages({ count: 0 })).resolves.toEqual([]);
    expect(bus.fake.callsOf('admin')).toBe(0);
  });

  it('lists dead letters decoded, with their reason and the original envelope without bookkeeping', async () => {
    const { bus } = await withDeadLetter();
    const [letter, ...rest] = await bus.getDlqMessages();
    expect(rest).toEqual([]);
    expect(letter!.id).toBe('dlq-5-0');
    expect(letter!.event).toBeInstanceOf(OrderPlaced);
    expect((letter!.event as DomainEvent & { n: number }).n).toBe(5);
    expect(letter!.eventType).toBe(OrderPlaced.eventType);
    expect(letter!.info).toMatchObject({ reason: 'retries_disabled', originalId: '5-0', consumerGroup: 'billing', originalDestination: 'orders-stream' });
    expect(letter!.headers[HEADER.dlqReason]).toBeUndefined();
    expect(new TextDecoder().decode(letter!.rawBody)).toBe(letter!.body);
    await expect(bus.getDlqMessageCount()).resolves.toBe(1);
  });

  it('replays one by id, and an unknown id is DlqMessageNotFoundError; an empty id is ConfigError', async () => {
    const { bus } = await withDeadLetter();
    await expect(bus.replayDlqMessage('no-such-id')).rejects.toBeInstanceOf(DlqMessageNotFoundError);
    const empty = await bus.replayDlqMessage('').catch((e: unknown) => e);
    expect((empty as ConfigError).option).toBe('id');
    await bus.replayDlqMessage('dlq-5-0');
    expect(bus.fake.store.replayed).toEqual(['dlq-5-0']);
    await expect(bus.getDlqMessageCount()).resolves.toBe(0);
  });

  it('replays all and purges, returning how many', async () => {
    const { bus } = await withDeadLetter();
    await expect(bus.replayAllDlqMessages()).resolves.toBe(1);
    bus.fake.store.letters.push({ id: 'x', headers: {}, body: 'not json' }, { id: 'y', headers: {}, body: new Uint8Array([0xff]) });
    const listed = await bus.getDlqMessages();
    expect(listed.map((l) => [l.id, l.event, l.info.reason])).toEqual([
      ['x', undefined, 'malformed_json'],
      ['y', undefined, 'malformed_json'],
    ]);
    await expect(bus.purgeDlq()).resolves.toBe(2);
  });

  it('wraps broker errors of admin calls in TransportError with credentials masked', async () => {
    const { bus } = newBus();
    await bus.connect();
    const cause = new Error('NOAUTH redis://admin:letmein@10.0.0.5:6379 password=letmein');
    bus.fake.fail('admin', cause, Infinity);
    for (const call of [() => bus.getDlqMessageCount(), () => bus.getDlqMessages(), () => bus.purgeDlq(), () => bus.adminCall(() => bus.fake.enter('admin'))]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportError);
      expect((error as Error).message).not.toContain('letmein');
      expect((error as Error).cause).toBe(cause);
    }
    const error = await bus.adminCall(() => bus.fake.enter('admin')).catch((e: unknown) => e);
    expect((error as Error).message).toBe('trimStream() failed: NOAUTH redis://admin:***@10.0.0.5:6379 password=***');
    const own = new DlqMessageNotFoundError('1-0');
    await expect(bus.adminCall(() => Promise.reject(own))).rejects.toBe(own);
  });
});

describe('BrokerEventBusBase: publish', () => {
  it('hands encoded envelopes to the adapter in order, inside a producer span whose context travels in the headers', async () => {
    const tracer = new RecordingTracer();
    const { bus } = newBus({ tracer });
    await bus.connect();
    const events = [placed(1), placed(2), placed(3)];
    await bus.publish(events);
    const [batch] = bus.fake.published;
    expect(bus.fake.published).toHaveLength(1);
    expect(batch!.map((e) => e.headers[HEADER.eventId])).toEqual(events.map((e) => e.eventId));
    expect(batch!.map((e) => e.key)).toEqual(['order-1', 'order-2', 'order-3']);
    const [span] = tracer.named('eventsource.event_bus.publish');
    expect(span).toBeDefined();
    expect(span!.kind).toBe('producer');
    expect(span!.attributes).toMatchObject({
      'messaging.system': 'fake',
      'messaging.destination.name': 'orders-stream',
      'messaging.batch.message_count': 3,
    });
    expect(span!.status?.code).toBe('ok');
    expect(span!.ended).toBe(true);
    for (const envelope of batch!) expect(envelope.headers[HEADER.traceparent]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(bus.getStats().eventsPublished).toBe(3);
  });

  it('wraps a broker failure in PublishError with credentials masked, marks the span failed and counts nothing', async () => {
    const tracer = new RecordingTracer();
    const { bus } = newBus({ tracer });
    await bus.connect();
    const cause = new Error('connection lost to rediss://:sup3rs3cret@cache.example.com:6380');
    bus.fake.fail('publish', cause);
    const error = await bus.publish([placed(1), placed(2)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as Error).message).toContain('Publishing 2 event(s) to orders-stream failed: connection lost to rediss://***@cache.example.com:6380');
    expect((error as Error).message).not.toContain('sup3rs3cret');
    expect((error as Error).cause).toBe(cause);
    const [span] = tracer.named('eventsource.event_bus.publish');
    expect(span!.status?.code).toBe('error');
    expect(span!.exceptions).toEqual([error]);
    expect(bus.getStats().eventsPublished).toBe(0);
  });

  it("names the adapter's publishDestination, when it has one, in the publish span, the sent metric and publish errors", async () => {
    const tracer = new RecordingTracer();
    const metrics = new RecordingMetrics();
    const { bus } = newBus({ tracer, metrics }, { publishDestination: 'orders-exchange' });
    await bus.connect();
    await bus.publish([placed(1)]);
    expect(tracer.named('eventsource.event_bus.publish')[0]!.attributes['messaging.destination.name']).toBe('orders-exchange');
    expect(metrics.named(METRIC_NAMES.sent)[0]!.attributes).toMatchObject({ 'messaging.destination.name': 'orders-exchange' });
    bus.fake.fail('publish', new Error('socket closed'));
    await expect(bus.publish([placed(2)])).rejects.toThrow('Publishing 1 event(s) to orders-exchange failed: socket closed');
  });

  it('lets a publish awaited when shutdown began finish before the connection closes', async () => {
    const { bus } = newBus();
    await bus.connect();
    const release = deferred();
    bus.fake.before('publish', () => release.promise);
    const publishing = bus.publish([placed(1)]);
    await nextTurn();
    const stopping = bus.shutdown(2000);
    await nextTurn();
    expect(bus.fake.closedAt).toBeUndefined();
    release.resolve();
    await expect(publishing).resolves.toBeUndefined();
    await expect(stopping).resolves.toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(bus.fake.published).toHaveLength(1);
    expect(bus.fake.closedAt).toBeDefined();
  });

  it('closes at the deadline under a publish that never finishes, and says it did not drain', async () => {
    const { bus, logger } = newBus();
    await bus.connect();
    bus.fake.before('publish', () => new Promise(() => undefined));
    void bus.publish([placed(1)]).catch(() => undefined);
    await nextTurn();
    await expect(bus.shutdown(50)).resolves.toEqual({ drained: false, pendingBackgroundTasks: 0 });
    expect(bus.fake.closedAt).toBeDefined();
    expect(logger.text).toContain('Stopped at the deadline while publishes were still being written');
  });

  it("passes the adapter's own EventSourceErrors through unchanged, without tracing too", async () => {
    const { bus } = newBus({ enableTracing: false });
    await bus.connect();
    const own = new TransportError('publisher connection is closing');
    bus.fake.fail('publish', own);
    await expect(bus.publish([placed(1)])).rejects.toBe(own);
    await bus.publish([placed(2)]);
    expect(bus.fake.published[0]![0]!.headers[HEADER.traceparent]).toBeUndefined();
  });
});

describe('BrokerEventBusBase: metrics', () => {
  it('records published, consumed, handler duration, handler errors, retries, dead letters and in-flight through the port', async () => {
    const metrics = new RecordingMetrics();
    const { bus } = newBus({ metrics, maxRetries: 1 }, {});
    const gate = deferred();
    bus.subscribe(OrderPlaced, (event) => {
      if (event.n === 1) return gate.promise;
      throw new TypeError('bad order');
    });
    await consuming(bus);
    await bus.publish([placed(1), placed(2)]);
    expect(metrics.named(METRIC_NAMES.sent)).toEqual([{ name: METRIC_NAMES.sent, value: 2, attributes: { 'messaging.system': 'fake', 'messaging.destination.name': 'orders-stream' } }]);

    bus.fake.push(bus.fake.delivery(placed(1)));
    await nextTurn();
    expect(metrics.read(METRIC_NAMES.inFlight)).toEqual([
      { name: METRIC_NAMES.inFlight, value: 1, attributes: { 'messaging.system': 'fake', 'messaging.destination.name': 'orders-stream', 'messaging.consumer.group.name': 'billing' } },
    ]);
    gate.resolve();
    bus.fake.push(bus.fake.delivery(placed(2)), bus.fake.delivery(placed(2), { headers: { [HEADER.attempt]: '1' } }));
    await soon(() => expect(bus.getStats()).toMatchObject({ eventsRetried: 1, eventsDeadLettered: 1, eventsProcessed: 1 }));

    const group = { 'messaging.system': 'fake', 'messaging.destination.name': 'orders-stream', 'messaging.consumer.group.name': 'billing' };
    expect(metrics.named(METRIC_NAMES.consumed)).toEqual(Array(3).fill({ name: METRIC_NAMES.consumed, value: 1, attributes: group }));
    const durations = metrics.named(METRIC_NAMES.processDuration);
    expect(durations.map((d) => d.attributes?.['eventsource.outcome']).sort()).toEqual(['ack', 'dead_letter', 'retry']);
    expect(durations.every((d) => d.value >= 0 && d.attributes?.['eventsource.event.type'] === OrderPlaced.eventType)).toBe(true);
    expect(metrics.named(METRIC_NAMES.handlerErrors)).toHaveLength(2);
    expect(metrics.named(METRIC_NAMES.handlerErrors)[0]!.attributes).toMatchObject({ ...group, 'error.type': 'TypeError' });
    expect(metrics.named(METRIC_NAMES.retries)[0]!.attributes).toMatchObject({ ...group, 'eventsource.event.type': OrderPlaced.eventType });
    expect(metrics.named(METRIC_NAMES.deadLetters)[0]!.attributes).toMatchObject({ ...group, 'eventsource.dlq.reason': 'max_retries_exceeded' });
    expect(metrics.read(METRIC_NAMES.inFlight)[0]!.value).toBe(0);

    await bus.shutdown(100);
    expect(metrics.stopped).toEqual([METRIC_NAMES.inFlight]);
  });

  it('creates its instruments once, with units', () => {
    const metrics = new RecordingMetrics();
    newBus({ metrics });
    const names = metrics.instruments.map((i) => i.name).sort();
    expect(names).toEqual(
      [METRIC_NAMES.consumed, METRIC_NAMES.deadLetters, METRIC_NAMES.handlerErrors, METRIC_NAMES.inFlight, METRIC_NAMES.processDuration, METRIC_NAMES.retries, METRIC_NAMES.sent].sort(),
    );
    expect(metrics.instruments.find((i) => i.name === METRIC_NAMES.processDuration)?.options.unit).toBe('s');
  });
});

describe('BrokerEventBusBase: fencing and poison isolation end to end', () => {
  it('drops queued messages of a revoked claim (eventsFenced) and never starts them', async () => {
    const { bus } = newBus({ maxInFlight: 1 });
    const gate = deferred();
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, async (event) => {
      seen.push(event.n);
      if (event.n === 1) await gate.promise;
    });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1)), bus.fake.delivery(placed(2)), bus.fake.delivery(placed(3)));
    bus.fake.claim.revoke('keep-alive failed for longer than reclaimIdleMs');
    expect(bus.fake.sink.fence(bus.fake.claim)).toHaveLength(2);
    bus.fake.push(bus.fake.delivery(placed(4)));
    gate.resolve();
    await soon(() => expect(bus.getStats().eventsProcessed).toBe(1));
    expect(seen).toEqual([1]);
    expect(bus.getStats()).toMatchObject({ eventsFenced: 3, eventsConsumed: 4 });
  });

  it('with recordStart, dead-letters only the suspect past maxDeliveries (max_deliveries_exceeded); its batchmates are handled', async () => {
    const { bus } = newBus({ maxDeliveries: 3 }, { recordStart: true });
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => void seen.push(event.n));
    await consuming(bus);
    bus.fake.starts.set('killer', 3);
    bus.fake.push(
      bus.fake.delivery(placed(1), { id: 'mate-1', suspect: true, deliveryCount: 6 }),
      bus.fake.delivery(placed(2), { id: 'killer', suspect: true, deliveryCount: 6 }),
      bus.fake.delivery(placed(3), { id: 'mate-2', suspect: true, deliveryCount: 6 }),
    );
    await soon(() => expect(bus.fake.acks.flat().sort()).toEqual(['killer', 'mate-1', 'mate-2']));
    expect(seen).toEqual([1, 3]);
    expect(bus.fake.deadLettered.map((d) => d.id)).toEqual(['killer']);
    const { info } = bus.fake.deadLettered[0]!.write;
    expect(info).toMatchObject({ reason: 'max_deliveries_exceeded', errorType: 'RedeliveryLimitExceeded', originalId: 'killer' });
    expect(info.errorMessage).toContain('Started 4 times (maxDeliveries 3)');
    expect(bus.fake.starts.get('mate-1')).toBe(1);
    expect(bus.getStats()).toMatchObject({ eventsDeadLettered: 1, eventsProcessed: 2 });
  });

  it('without recordStart, dead-letters a suspect whose delivery count passed maxDeliveries', async () => {
    const { bus } = newBus({ maxDeliveries: 3 });
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => void seen.push(event.n));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: 'a', suspect: true, deliveryCount: 3 }), bus.fake.delivery(placed(2), { id: 'b', suspect: true, deliveryCount: 4 }));
    await soon(() => expect(bus.fake.acks.flat().sort()).toEqual(['a', 'b']));
    expect(seen).toEqual([1]);
    expect(bus.fake.deadLettered.map((d) => [d.id, d.write.info.reason])).toEqual([['b', 'max_deliveries_exceeded']]);
  });
});

describe('BrokerEventBusBase: permanent failures', () => {
  it('a dead-letter write refused for good leaves the message unsettled and is logged', async () => {
    const { bus, logger } = newBus({ maxRetries: 0 });
    bus.fake.fail('writeDeadLetter', new PermanentFault('NOPERM'), Infinity);
    bus.subscribe(OrderPlaced, () => {
      throw new Error('declined');
    });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(logger.text).toContain('refused to write a dead letter; the message stays unsettled'));
    expect(bus.fake.acks).toEqual([]);
    expect(bus.getStats().eventsDeadLettered).toBe(0);
  });
});
