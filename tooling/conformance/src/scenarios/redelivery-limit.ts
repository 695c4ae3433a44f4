import { expect } from 'vitest';
import type { DomainEvent } from '@eventsource/core';
import { gate } from '@eventsource/testkit';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { Recorder, requireDlq, requireKill, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

export const redeliveryLimitScenarios: readonly Scenario[] = [
  {
    area: 'redelivery limit',
    title: 'a message whose consumers keep dying mid-handler is dead-lettered as max_deliveries_exceeded after maxDeliveries starts, and its batchmates are handled',
    requires: ['redeliveryLimit', 'redeliveryAfterCrash', 'dlqAdmin'],
    budget: 8,
    async run(env) {
      const maxDeliveries = 2;
      // The poison "kills" whoever starts it: the handler never returns and the test kills its bus.
      const never = gate();
      env.onCleanup(() => never.open());
      const poison = orderPlaced({ aggregateId: env.uniqueId('poison'), giftNote: 'kills its consumer' });
      const batchmates = Array.from({ length: 4 }, () => orderPlaced({ aggregateId: env.uniqueId('mate') }));
      let poisonStarts = 0;
      const handled = new Recorder();
      const handler = async (event: DomainEvent): Promise<void> => {
        if (event.eventId !== poison.eventId) return handled.handle(event);
        poisonStarts++;
        await never.promise;
      };
      // One slot: the batchmates wait behind the poison, so they are in the batch each crash leaves behind.
      const options = { group: 'crash-loop', maxDeliveries, maxInFlight: 1, maxRetries: 0 };
      const first = await env.startBus((b) => b.subscribe(OrderPlaced, handler), { ...options, consumerName: 'crash-1' });
      await first.bus.publish([poison, ...batchmates]);
      await env.eventually(() => expect(poisonStarts).toBe(1));

      let victim = first;
      for (let crash = 1; crash <= maxDeliveries; crash++) {
        // The next member joins, then the one running the poison dies.
        const next = await env.startBus((b) => b.subscribe(OrderPlaced, handler), { ...options, consumerName: `crash-${crash + 1}` });
        await requireKill(victim)();
        victim = next;
        if (crash < maxDeliveries) await env.eventually(() => expect(poisonStarts).toBe(crash + 1), env.timeoutMs * 2);
      }

      const dlq = requireDlq(victim);
      const letters = await env.eventually(async () => {
        const list = await dlq.getDlqMessages();
        expect(list, `dead letters (the poison was started ${poisonStarts} times)`).toHaveLength(1);
        return list;
      }, env.timeoutMs * 2);
      const letter = letters[0]!;
      expect(letter.event?.eventId).toBe(poison.eventId);
      expect(letter.info.reason).toBe('max_deliveries_exceeded');
      await env.eventually(() => expect(handled.distinct()).toEqual(new Set(batchmates.map((e) => e.eventId))));
      // Dead-lettered instead of started a third time.
      expect(poisonStarts).toBe(maxDeliveries);
    },
  },
];
