import { expect } from 'vitest';
import { ConfigError, DlqMessageNotFoundError, NotConnectedError } from '@eventsource/core';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { Recorder, failureOf, requireBroker, requireDlq, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

function expectNotConnected(error: unknown, what: string): void {
  expect(error, what).toBeInstanceOf(NotConnectedError);
  expect(error, what).toMatchObject({ code: 'ES_NOT_CONNECTED', name: 'NotConnectedError' });
  // The message says what to do, not only what went wrong.
  expect((error as Error).message, what).toContain('connect()');
}

export const brokerLifecycleScenarios: readonly Scenario[] = [
  {
    area: 'broker lifecycle',
    title: 'every call that needs the broker fails before connect() with NotConnectedError naming connect()',
    requires: ['brokerLifecycle'],
    async run(env) {
      const testBus = await env.context.createBus({ connect: false });
      const broker = requireBroker(testBus);
      broker.subscribe(OrderPlaced, () => {});
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      expectNotConnected(await failureOf(() => broker.publish([event])), 'publish');
      expectNotConnected(await failureOf(() => broker.publish([event], { background: true })), 'background publish');
      expectNotConnected(await failureOf(() => broker.startConsuming()), 'startConsuming');
      if (env.capabilities.dlqAdmin) {
        expectNotConnected(await failureOf(() => broker.getDlqMessageCount()), 'getDlqMessageCount');
        expectNotConnected(await failureOf(() => broker.getDlqMessages()), 'getDlqMessages');
      }
      expect(broker.health()).toMatchObject({ healthy: false, connected: false, consuming: false });
      // An unconnected bus still shuts down cleanly.
      await expect(broker.shutdown(env.timeoutMs)).resolves.toMatchObject({ drained: true });
    },
  },
  {
    area: 'broker lifecycle',
    title: 'stopConsuming() stops delivery and starting again resumes where the group left off',
    requires: ['brokerLifecycle'],
    budget: 3,
    async run(env) {
      const received = new Recorder();
      const consumer = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const broker = requireBroker(consumer);
      const aggregateId = env.uniqueId('order');
      const first = orderPlaced({ aggregateId });
      await broker.publish([first]);
      await env.eventually(() => expect(received.ids).toEqual([first.eventId]));

      await broker.stopConsuming();
      expect(broker.health().consuming).toBe(false);
      // Publishing does not need a running consumer.
      const second = orderPlaced({ aggregateId, aggregateVersion: 2 });
      await broker.publish([second]);
      expect(received.ids).toEqual([first.eventId]);

      await consumer.start();
      await env.eventually(() => expect(received.ids).toEqual([first.eventId, second.eventId]));
      expect(broker.health()).toMatchObject({ healthy: true, connected: true, consuming: true });
    },
  },
  {
    area: 'dead letters',
    title: 'dead-letter calls check their arguments: count 0 lists nothing, a bad count is a ConfigError, an unknown id DlqMessageNotFoundError',
    requires: ['dlqAdmin'],
    async run(env) {
      const consumer = await env.startBus((b) => b.subscribe(OrderPlaced, () => {}));
      const dlq = requireDlq(consumer);
      await expect(dlq.getDlqMessages({ count: 0 })).resolves.toEqual([]);
      for (const count of [-1, 1.5]) {
        const error = await failureOf(() => dlq.getDlqMessages({ count }));
        expect(error, `count ${count}`).toBeInstanceOf(ConfigError);
        expect(error, `count ${count}`).toMatchObject({ code: 'ES_INVALID_CONFIG' });
      }
      const notFound = await failureOf(() => dlq.replayDlqMessage('nope'));
      expect(notFound).toBeInstanceOf(DlqMessageNotFoundError);
      expect(notFound).toMatchObject({ code: 'ES_DLQ_MESSAGE_NOT_FOUND' });
      expect(await dlq.getDlqMessageCount()).toBe(0);
    },
  },
];
