import { randomUUID } from 'node:crypto';
import {
  AggregateRepository,
  EnvelopeCodec,
  EnvelopeDecodeError,
  InMemoryEventBus,
  InMemoryEventStore,
  InvalidHandlerError,
  silentLogger,
  type DomainEvent,
  type Logger,
  type Span,
  type Tracer,
  extractTraceContext,
} from '@eventsource/core';
import { CustomerNotified, OrderCreated, OrderShipped } from './events.js';
import { OrderAggregate } from './order-aggregate.js';

export interface QuickstartResult {
  readonly stats: ReturnType<InMemoryEventBus['getStats']>;
  readonly spans: readonly string[];
  readonly projectionOrders: number;
  readonly auditCount: number;
  readonly backgroundHandled: number;
  readonly decodeRejection: string;
  readonly repositoryPublished: readonly string[];
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

  section('7. Stats, tracing and shutdown');
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
