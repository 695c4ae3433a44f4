import { expect } from 'vitest';
import { SPAN_NAMES } from '@eventsource/core';
import { RecordingTracer } from '@eventsource/testkit';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { Recorder, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

export const tracingScenarios: readonly Scenario[] = [
  {
    area: 'trace context',
    title: "the consumer's dispatch span continues the publisher's trace: same trace id, the publish span as parent",
    requires: ['traceContext'],
    async run(env) {
      const tracer = new RecordingTracer({ tracestate: 'conformance=1' });
      const received = new Recorder();
      await env.startBus((b) => b.subscribe(OrderPlaced, received.handle), { tracer });
      // Not started: on a broker only the headers carry the context from here to the consumer.
      const publisher = await env.context.createBus({ tracer });
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      await publisher.bus.publish([event]);
      await env.eventually(() => expect(received.ids).toEqual([event.eventId]));

      const publishes = tracer.named(SPAN_NAMES.publish);
      expect(publishes).toHaveLength(1);
      const publish = publishes[0]!;
      expect(publish.kind).toBe('producer');
      const dispatch = tracer.named(SPAN_NAMES.dispatch).find((span) => span.attributes['messaging.message.id'] === event.eventId);
      expect(dispatch, 'a dispatch span with messaging.message.id = the event id').toBeDefined();
      expect(dispatch!.traceId).toBe(publish.traceId);
      expect(dispatch!.parentSpanId).toBe(publish.spanId);
      if (dispatch!.remoteParent) {
        // Crossed a broker: the parent came out of the message headers, tracestate included.
        expect(dispatch!.kind).toBe('consumer');
        expect(dispatch!.parent).toEqual({ traceparent: publish.traceparent, tracestate: 'conformance=1' });
      } else {
        expect(dispatch!.parent).toBe(publish);
      }
    },
  },
];
