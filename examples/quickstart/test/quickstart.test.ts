import { expect, it } from 'vitest';
import { runQuickstart } from '../src/quickstart.js';

it('the quick start demo shows every step working', async () => {
  const lines: string[] = [];
  const result = await runQuickstart((line) => lines.push(line));
  const output = lines.join('\n');

  expect(output).toContain('created for customer-123');
  expect(output).toMatch(/\[typed\] +OrderShipped via DHL/);
  expect(result.projectionOrders).toBe(3); // step 2, the background publish, the repository save
  expect(output).toContain('[object]     NotificationService sent email');
  expect(output).toContain('[lambda]     still ran for email');
  expect(output).toContain('[logged] Handler smsGateway failed on CustomerNotified');
  expect(output).toContain('subscribe(…, 42) → InvalidHandlerError (ES_INVALID_HANDLER)');
  expect(output).toContain('slow handler done yet? no');
  expect(result.backgroundHandled).toBe(1);
  expect(result.repositoryPublished).toEqual(['OrderCreated@1', 'OrderShipped@2']);
  expect(result.decodeRejection).toBe('forbidden_key');
  expect(result.stats.handlerErrors).toBe(1);
  expect(result.stats.backgroundTasksCreated).toBe(1);
  expect(result.stats.backgroundTasksCompleted).toBe(1);
  expect(Object.keys(result.stats).sort()).toEqual([
    'backgroundTasksCompleted',
    'backgroundTasksCreated',
    'eventsPublished',
    'handlerErrors',
    'handlersInvoked',
  ]);
  expect(new Set(result.spans)).toEqual(
    new Set(['eventsource.event_bus.publish', 'eventsource.event_bus.dispatch', 'eventsource.event_bus.handle']),
  );
});

it('the demo shows events, the registry, validation and the retry policy at work', async () => {
  const lines: string[] = [];
  const result = await runQuickstart((line) => lines.push(line));
  const output = lines.join('\n');
  expect(result.frozen).toBe(true);
  expect(result.causationLinked).toBe(true);
  expect(result.duplicateCode).toBe('ES_DUPLICATE_EVENT_TYPE');
  expect(output).toMatch(/tried to register the same name/);
  expect(output).toContain('unknown type → ES_UNKNOWN_EVENT_TYPE: known are CustomerNotified, OrderCreated, OrderShipped, PaymentCaptured');
  expect(output).toContain('schema refuses a bad payload → ES_INVALID_EVENT');
  expect(result.validationReason).toBe('payload_invalid');
  expect(output).toContain('RetryPolicy delays: 1000 ms, 2000 ms, 4000 ms; after 4 failures → dead-letter');
  expect(output).toContain('unsubscribe: true then false');
});
