import { expect } from 'vitest';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { Recorder, failureOf, type Scenario } from '../scenario.js';

const { OrderPlaced, OrderShipped, OrderCancelled } = ConformanceEvents;

// Negative checks ("no longer called") use a witness handler on the same bus and type: one message
// is dispatched to all of a bus's handlers at once, so once the witness has it, the others had it too.
export const subscriptionScenarios: readonly Scenario[] = [
  {
    area: 'subscriptions',
    title: 'unsubscribe() returns true then false, and the handler is no longer called',
    async run(env) {
      const removable = new Recorder();
      const witness = new Recorder();
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderPlaced, removable.handle);
        b.subscribe(OrderPlaced, witness.handle);
      });
      const aggregateId = env.uniqueId('order');
      const first = orderPlaced({ aggregateId });
      await bus.publish([first]);
      await env.eventually(() => expect(removable.ids).toEqual([first.eventId]));

      expect(bus.unsubscribe(OrderPlaced, removable.handle)).toBe(true);
      expect(bus.unsubscribe(OrderPlaced, removable.handle)).toBe(false);
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(1);

      const second = orderPlaced({ aggregateId, aggregateVersion: 2 });
      await bus.publish([second]);
      await env.eventually(() => expect(witness.ids).toContain(second.eventId));
      expect(removable.ids).toEqual([first.eventId]);
    },
  },
  {
    area: 'subscriptions',
    title: 'the function subscribe() returns unsubscribes that one handler',
    async run(env) {
      const removable = new Recorder();
      const witness = new Recorder();
      let off!: () => boolean;
      const { bus } = await env.startBus((b) => {
        off = b.subscribe(OrderPlaced, removable.handle);
        b.subscribe(OrderPlaced, witness.handle);
      });
      expect(off()).toBe(true);
      expect(off()).toBe(false);
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(1);

      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      await bus.publish([event]);
      await env.eventually(() => expect(witness.ids).toEqual([event.eventId]));
      expect(removable.events).toHaveLength(0);
    },
  },
  {
    area: 'subscriptions',
    title: 'unsubscribeFromAllEvents() removes a wildcard handler: true then false, no further calls',
    async run(env) {
      const wildcard = new Recorder();
      const witness = new Recorder();
      const { bus } = await env.startBus((b) => {
        b.subscribeToAllEvents(wildcard.handle);
        b.subscribe(OrderPlaced, witness.handle);
      });
      const aggregateId = env.uniqueId('order');
      const first = orderPlaced({ aggregateId });
      await bus.publish([first]);
      await env.eventually(() => expect(wildcard.ids).toEqual([first.eventId]));

      expect(bus.getWildcardSubscriberCount()).toBe(1);
      expect(bus.unsubscribeFromAllEvents(wildcard.handle)).toBe(true);
      expect(bus.unsubscribeFromAllEvents(wildcard.handle)).toBe(false);
      expect(bus.getWildcardSubscriberCount()).toBe(0);

      const second = orderPlaced({ aggregateId, aggregateVersion: 2 });
      await bus.publish([second]);
      await env.eventually(() => expect(witness.ids).toContain(second.eventId));
      expect(wildcard.ids).toEqual([first.eventId]);
    },
  },
  {
    area: 'subscriptions',
    title: 'clearSubscribers() removes every typed and wildcard handler',
    async run(env) {
      const typed = new Recorder();
      const wildcard = new Recorder();
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderPlaced, typed.handle);
        b.subscribe(OrderShipped, typed.handle);
        b.subscribeToAllEvents(wildcard.handle);
      });
      const aggregateId = env.uniqueId('order');
      const first = orderPlaced({ aggregateId });
      await bus.publish([first]);
      await env.eventually(() => expect(wildcard.ids).toEqual([first.eventId]));

      bus.clearSubscribers();
      expect(bus.getSubscriberCount()).toBe(0);
      expect(bus.getWildcardSubscriberCount()).toBe(0);

      const witness = new Recorder();
      bus.subscribe(OrderPlaced, witness.handle);
      const second = orderPlaced({ aggregateId, aggregateVersion: 2 });
      await bus.publish([second]);
      await env.eventually(() => expect(witness.ids).toEqual([second.eventId]));
      expect(typed.ids).toEqual([first.eventId]);
      expect(wildcard.ids).toEqual([first.eventId]);
    },
  },
  {
    area: 'subscriptions',
    title: 'subscriber counts follow subscribe, subscribeAll and wildcard subscriptions',
    async run(env) {
      const { bus } = await env.context.createBus();
      expect(bus.getSubscriberCount()).toBe(0);
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(0);
      expect(bus.getWildcardSubscriberCount()).toBe(0);

      bus.subscribe(OrderPlaced, () => {});
      bus.subscribe(OrderPlaced, { handle: () => {} });
      bus.subscribe(OrderShipped, () => {});
      const offAll = bus.subscribeAll({ subscribedTo: () => [OrderPlaced, OrderCancelled], handle: () => {} });
      const wildcard = (): void => {};
      bus.subscribeToAllEvents(wildcard);

      expect(bus.getSubscriberCount(OrderPlaced)).toBe(3);
      expect(bus.getSubscriberCount(OrderShipped)).toBe(1);
      expect(bus.getSubscriberCount(OrderCancelled)).toBe(1);
      expect(bus.getSubscriberCount(ConformanceEvents.Unheard)).toBe(0);
      // Wildcards are counted apart from typed handlers.
      expect(bus.getSubscriberCount()).toBe(5);
      expect(bus.getWildcardSubscriberCount()).toBe(1);

      offAll();
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(2);
      expect(bus.getSubscriberCount(OrderCancelled)).toBe(0);
      expect(bus.getSubscriberCount()).toBe(3);
      bus.unsubscribeFromAllEvents(wildcard);
      expect(bus.getWildcardSubscriberCount()).toBe(0);
    },
  },
  {
    area: 'subscriptions',
    title: 'subscribing something that is not a handler or not an event class fails at once with a typed error',
    async run(env) {
      const { bus } = await env.context.createBus();
      const notHandler = await failureOf(() => bus.subscribe(OrderPlaced, 42 as never));
      expect(notHandler).toBeInstanceOf(TypeError);
      expect(notHandler).toMatchObject({ code: 'ES_INVALID_HANDLER' });
      const objectWithoutHandle = await failureOf(() => bus.subscribe(OrderPlaced, { handel: () => {} } as never));
      expect(objectWithoutHandle).toMatchObject({ code: 'ES_INVALID_HANDLER' });
      const wildcardNull = await failureOf(() => bus.subscribeToAllEvents(null as never));
      expect(wildcardNull).toMatchObject({ code: 'ES_INVALID_HANDLER' });
      const notEventClass = await failureOf(() => bus.subscribe({ eventType: 42 } as never, () => {}));
      expect(notEventClass).toMatchObject({ code: 'ES_INVALID_EVENT' });
      const notSubscriber = await failureOf(() => bus.subscribeAll({ handle: () => {} } as never));
      expect(notSubscriber).toMatchObject({ code: 'ES_INVALID_EVENT' });

      expect(bus.getSubscriberCount()).toBe(0);
      expect(bus.getWildcardSubscriberCount()).toBe(0);
    },
  },
];
