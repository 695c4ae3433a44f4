import { expect } from 'vitest';
import { PublishTimeoutError } from '@eventsource/core';
import { withTimeout } from '@eventsource/testkit';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { Recorder, failureOf, requireBroker, requireOutage, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

/**
 * Well inside the harness's budget, and short of what a client gives up after on its own (ioredis:
 * `maxRetriesPerRequest` reconnects with the harness's fast backoff), so the bus's limit is what
 * ends the wait.
 */
const PUBLISH_TIMEOUT_MS = 1000;

export const publishTimeoutScenarios: readonly Scenario[] = [
  {
    area: 'outage',
    title: 'a publish while the broker is unreachable rejects with PublishTimeoutError after publishTimeoutMs instead of hanging; once restored, publishing works again',
    requires: ['outage', 'brokerLifecycle'],
    budget: 5,
    async run(env) {
      const outage = requireOutage(env.context);
      const received = new Recorder();
      await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const publisher = requireBroker(await env.context.createBus({ publishTimeoutMs: PUBLISH_TIMEOUT_MS }));

      await outage.cut();
      env.onCleanup(() => outage.restore());
      // The client has noticed: the publish below meets a broker that is away, not a live socket.
      await env.eventually(() => expect(publisher.health().connected).toBe(false));

      const during = orderPlaced({ aggregateId: env.uniqueId('during') });
      // The bound only turns a publish that never ends (no limit applied) into a clear failure.
      const error = await withTimeout(
        failureOf(() => publisher.publish([during])),
        env.timeoutMs,
        `publish during an outage with publishTimeoutMs: ${PUBLISH_TIMEOUT_MS}`,
      );
      expect(error).toBeInstanceOf(PublishTimeoutError);
      expect(error).toMatchObject({ code: 'ES_PUBLISH_TIMEOUT', name: 'PublishTimeoutError', eventCount: 1, timeoutMs: PUBLISH_TIMEOUT_MS });
      expect((error as Error).message).toContain('publishTimeoutMs');

      // The abandoned write may still land once the broker is back (at-least-once): `during` may
      // or may not be handled, so only what is published after the outage is checked.
      await outage.restore();
      await env.eventually(() => expect(publisher.health()).toMatchObject({ healthy: true, connected: true }), env.timeoutMs * 2);
      const after = orderPlaced({ aggregateId: env.uniqueId('after') });
      await withTimeout(publisher.publish([after]), env.timeoutMs, 'publish after the outage');
      await env.eventually(() => expect(received.ids).toContain(after.eventId), env.timeoutMs * 2);
    },
  },
];
