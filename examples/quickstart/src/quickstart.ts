import { randomUUID } from 'node:crypto';
import {
  AggregateRepository,
  EnvelopeCodec,
  EnvelopeDecodeError,
  InMemoryEventBus,
  InMemoryEventStore,
  DuplicateEventTypeError,
  InvalidEventError,
  InvalidHandlerError,
  RetryPolicy,
  UnknownEventTypeError,
  defaultRegistry,
  defineEvent,
  silentLogger,
  type DomainEvent,
  type Logger,
  type Span,
  type Tracer,
  extractTraceContext,
} from '@eventsource/core';
import { CustomerNotified, OrderCreated, OrderShipped, PaymentCaptured } from './events.js';
import { OrderAggregate } from './order-aggregate.js';

export interface QuickstartResult {
  readonly stats: ReturnType<InMemoryEventBus['getStats']>;
  readonly spans: readonly string[];
  readonly projectionOrders: number;
  readonly auditCount: number;
  readonly backgroundHandled: number;
  readonly decodeRejection: string;
  readonly repositoryPublished: readonly string[];
  readonly frozen: boolean;
  readonly causationLinked: boolean;
  readonly duplicateCode: string;
  readonly validationReason: string;
}

/** Runs every step of the guide on the in-memory bus, writing what happens to `print`. */
export async function runQuickstart(print: (line: string) => void): Promise<QuickstartResult> {
  const section = (title: string): void => print(`\n── ${title} ${'─'.repeat(Math.max(0, 60 - title.length))}`);
  const spans: string[] = [];
  const logger: Logger = { ...silentLogger, error: (message) => print(`  [logged] ${message}`) };
  const bus = new InMemoryEventBus({ tracer: recordingTracer(spans), logger });

  section('1. Quick start: subscribe a handler, publish an event');
  async function handleOrder(event: OrderCreated): Promise<void> {
    print(`  Order ${event.aggregateId} created for ${event.customerId}`);
  }
  bus.subscribe(OrderCreated, handleOrder);
  await bus.publish([new OrderCreated({ aggregateId: randomUUID(), customerId: 'customer-123', aggregateVersion: 1 })]);

  section('2. Three subscription styles');
  // (a) one type, a lambda: `e` is typed, so e.carrier needs no cast
  bus.subscribe(OrderShipped, (e) => print(`  [typed]      ${e.eventType} via ${e.carrier} (${e.trackingNumber})`));
  // (b) a projection that declares its types once
  const projection = new OrderProjection(print);
  bus.subscribeAll(projection);
  // (c) a wildcard handler for cross-cutting concerns
  let auditCount = 0;
  bus.subscribeToAllEvents((e: DomainEvent) => {
    auditCount++;
    print(`  [wildcard]   audit ${e.eventType} #${e.aggregateVersion} of ${e.aggregateType} ${e.aggregateId.slice(0, 8)}`);
  });
  const orderId = randomUUID();
  await bus.publish([
    new OrderCreated({ aggregateId: orderId, customerId: 'customer-456', aggregateVersion: 1 }),
    new OrderShipped({ aggregateId: orderId, carrier: 'DHL', trackingNumber: 'JD0142', aggregateVersion: 2 }),
  ]);
  print(`  subscribers: OrderCreated=${bus.getSubscriberCount(OrderCreated)}, wildcard=${bus.getWildcardSubscriberCount()}`);

  section('3. Handler types and error isolation');
  bus.subscribe(CustomerNotified, new NotificationService(print));
  bus.subscribe(CustomerNotified, () => {
    throw new Error('SMS gateway down');
  }, { name: 'smsGateway' });
  bus.subscribe(CustomerNotified, (e) => print(`  [lambda]     still ran for ${e.channel}`));
  await bus.publish([new CustomerNotified({ aggregateId: 'customer-456', channel: 'email' })]);
  print('  publish() resolved: one failing handler did not stop the others');
  try {
    bus.subscribe(CustomerNotified, 42 as never);
  } catch (error) {
    if (error instanceof InvalidHandlerError) print(`  subscribe(…, 42) → ${error.name} (${error.code})`);
  }

  section('4. Background publish and a draining shutdown');
  let backgroundHandled = 0;
  const slowId = randomUUID();
  bus.subscribe(OrderCreated, async (e) => {
    if (e.aggregateId !== slowId) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
    backgroundHandled++;
  }, { name: 'slowMailer' });
  await bus.publish([new OrderCreated({ aggregateId: slowId, customerId: 'customer-789' })], { background: true });
  print(`  publish returned at once; slow handler done yet? ${backgroundHandled === 1 ? 'yes' : 'no'}`);
  print('  (its handlers run on a later tick; shutdown() in step 7 waits for them)');

  section('5. Repository: save appends, then publishes in order');
  const repositoryPublished: string[] = [];
  const savedOrderId = randomUUID();
  const recordSaved = (e: DomainEvent): void => {
    if (e.aggregateId === savedOrderId) repositoryPublished.push(`${e.eventType}@${e.aggregateVersion}`);
  };
  bus.subscribe(OrderCreated, recordSaved);
  bus.subscribe(OrderShipped, recordSaved);
  const repo = new AggregateRepository({
    eventStore: new InMemoryEventStore(),
    aggregateFactory: OrderAggregate,
    aggregateType: 'Order',
    eventPublisher: bus, // events auto-published on save
  });
  const order = repo.createNew(savedOrderId);
  order.create(randomUUID());
  order.ship('UPS', '1Z999');
  await repo.save(order);
  const reloaded = await repo.load(order.id);
  print(`  saved and published: ${repositoryPublished.join(', ')}; reloaded at version ${reloaded.version}, status ${reloaded.status}`);

  section('6. The wire envelope every broker uses');
  const codec = new EnvelopeCodec();
  const envelope = codec.encode(new OrderCreated({ aggregateId: orderId, customerId: 'customer-456' }));
  print(`  key=${envelope.key.slice(0, 8)}… headers: ${Object.keys(envelope.headers).join(', ')}`);
  const decoded = await codec.decode(envelope);
  print(`  decoded back to ${decoded.constructor.name}: ${decoded instanceof OrderCreated ? 'yes' : 'no'}`);
  let decodeRejection = '';
  try {
    await codec.decode({ body: '{"__proto__":{"admin":true},"eventType":"OrderCreated"}' });
  } catch (error) {
    if (error instanceof EnvelopeDecodeError) decodeRejection = error.reason;
    print(`  hostile input rejected: ${(error as Error).message}`);
  }

  section('7. Events, the registry and payload validation');
  const created = new OrderCreated({ aggregateId: orderId, customerId: 'customer-456', metadata: { source: 'demo' } });
  print(`  fields: eventId=${created.eventId.slice(0, 8)}… eventType=${created.eventType} v${created.eventVersion} aggregate=${created.aggregateType}#${created.aggregateVersion}`);
  print(`          occurredAt=${created.occurredAt.toISOString()} correlationId=${created.correlationId === created.eventId ? '(its own id)' : created.correlationId}`);
  let frozen = false;
  try {
    (created as { customerId: string }).customerId = 'someone else';
  } catch (error) {
    frozen = error instanceof TypeError;
  }
  print(`  events are immutable: assigning a field throws TypeError → ${frozen ? 'yes' : 'no'}`);
  const notified = new CustomerNotified({ aggregateId: 'customer-456', channel: 'email' }).withCausation(created);
  const causationLinked = notified.causationId === created.eventId && notified.correlationId === created.correlationId;
  print(`  withCausation: causationId=${notified.causationId?.slice(0, 8)}… correlationId shared → ${causationLinked ? 'yes' : 'no'}`);
  let duplicateCode = '';
  try {
    defineEvent('OrderCreated', { aggregateType: 'Order' });
  } catch (error) {
    if (error instanceof DuplicateEventTypeError) duplicateCode = error.code;
    // Paths shortened for the demo's output; the real message has them in full.
    const message = (error as Error).message.replaceAll(`${process.cwd()}/`, '');
    print(`  defining OrderCreated twice → ${duplicateCode}:\n    ${message.replace('; ', ';\n    ')}`);
  }
  try {
    defaultRegistry.get('OrderCancelled');
  } catch (error) {
    if (error instanceof UnknownEventTypeError) print(`  unknown type → ${error.code}: known are ${error.knownTypes.join(', ')}`);
  }
  let validationReason = '';
  try {
    new PaymentCaptured({ aggregateId: 'payment-1', amountCents: -5, currency: 'EUR' });
  } catch (error) {
    if (error instanceof InvalidEventError) print(`  schema refuses a bad payload → ${error.code}: ${error.message}`);
  }
  try {
    const forged = codec.encode(new PaymentCaptured({ aggregateId: 'payment-1', amountCents: 500, currency: 'EUR' }));
    await codec.decode({ ...forged, body: forged.body.replace('"amountCents":500', '"amountCents":"lots"') });
  } catch (error) {
    if (error instanceof EnvelopeDecodeError) validationReason = error.reason;
    print(`  …and the same schema guards what a broker delivers → reason ${validationReason}`);
  }

  section('8. Retry policy and unsubscribing');
  const policy = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0, maxRetries: 3 });
  print(`  RetryPolicy delays: ${[1, 2, 3].map((n) => `${policy.delayFor(n)} ms`).join(', ')}; after 4 failures → ${policy.decide(4).kind}`);
  const temporary = (): void => {};
  const off = bus.subscribe(OrderShipped, temporary);
  print(`  unsubscribe: ${off()} then ${bus.unsubscribe(OrderShipped, temporary)}`);

  section('9. Stats, tracing and shutdown');
  const result = await bus.shutdown(5_000);
  print(`  shutdown drained=${result.drained}; slow background handler finished: ${backgroundHandled === 1 ? 'yes' : 'no'}`);
  const stats = bus.getStats();
  print(`  stats ${JSON.stringify(stats)}`);
  const distinct = [...new Set(spans)];
  print(`  span names seen: ${distinct.join(', ')} (${spans.length} spans)`);

  return {
    stats,
    spans,
    projectionOrders: projection.orders.size,
    auditCount,
    backgroundHandled,
    decodeRejection,
    repositoryPublished,
    frozen,
    causationLinked,
    duplicateCode,
    validationReason,
  };
}

class OrderProjection {
  readonly orders = new Map<string, string>();
  constructor(private readonly print: (line: string) => void) {}

  subscribedTo() {
    return [OrderCreated, OrderShipped];
  }

  async handle(event: DomainEvent): Promise<void> {
    const status = event instanceof OrderShipped ? 'shipped' : 'created';
    this.orders.set(event.aggregateId, status);
    this.print(`  [projection] order ${event.aggregateId.slice(0, 8)} is ${status}`);
  }
}

class NotificationService {
  constructor(private readonly print: (line: string) => void) {}

  async handle(event: CustomerNotified): Promise<void> {
    this.print(`  [object]     NotificationService sent ${event.channel} to ${event.aggregateId}`);
  }
}

/** A tracer that only records span names: shows where @eventsource/otel plugs in. */
function recordingTracer(names: string[]): Tracer {
  const span: Span = {
    setAttribute() {},
    recordException() {},
    setStatus() {},
    end() {},
    run: (fn) => fn(),
  };
  return {
    enabled: true,
    startSpan(name) {
      names.push(name);
      return span;
    },
    inject() {},
    extract: extractTraceContext,
  };
}
