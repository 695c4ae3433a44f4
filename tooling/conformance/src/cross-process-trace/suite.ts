import { fork, type ChildProcess } from 'node:child_process';
import { SPAN_NAMES, type BrokerEventBus } from '@eventsource/core';
import { waitFor } from '@eventsource/testkit';
import { SpanStatusCode, context, propagation, trace, type TracerProvider } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderPlaced } from '../events.js';
import { APP_SPAN, DECLINED, HANDLED_AT_ONCE, RETRIED, TRACE_EVENT, TRACE_HANDLER, type FromConsumer, type ToConsumer } from './protocol.js';
import { memoryTracing, registerOtelGlobals, type SpanRecord } from './telemetry.js';

/** The consumer group of the forked consumer, and of the publishing bus (which subscribes to nothing). */
export const CROSS_PROCESS_GROUPS = { consumer: 'billing', publisher: 'publisher' } as const;

/** What one transport supplies to {@link testCrossProcessTrace}. */
export interface CrossProcessTraceHarness {
  /** Names the describe block, e.g. `redis`. */
  readonly transport: string;
  /** The `messaging.system` its spans carry. */
  readonly system: string;
  /** A fresh namespace for one run: a stream prefix, exchange name, topic prefix. */
  namespace(): string;
  /**
   * A connected bus on `namespace` in `group` (it subscribes to nothing) whose tracer is
   * `otel({ tracerProvider }).tracer`. It connects before the consumer starts, so whatever the
   * publisher declares (topics, the exchange) exists by then.
   */
  publisher(namespace: string, options: { readonly group: string; readonly tracerProvider: TracerProvider }): Promise<BrokerEventBus>;
  /**
   * The consumer script to fork (under `node --import tsx`) and its argv. The script builds its bus
   * in `group` on `namespace`, with `tracer: otelTracer()`, and hands it to `runTraceConsumer()`
   * from `@eventsource/conformance/cross-process-trace-consumer`. It should retry within ~100 ms.
   */
  consumer(namespace: string, group: string): { readonly script: string; readonly args: readonly string[] };
  /**
   * `messaging.destination.name` of the publish span and of the consumer's dispatch spans; the
   * groups are {@link CROSS_PROCESS_GROUPS}.
   */
  destinations(namespace: string, groups: typeof CROSS_PROCESS_GROUPS): { readonly publish: string; readonly dispatch: string };
  /** Deletes what the run left on the broker. */
  cleanup?(namespace: string, groups: readonly string[]): Promise<void>;
  /** Wait for the consumer to handle both events, ms. Default 30000. */
  readonly handleTimeoutMs?: number;
  /** Test timeout, ms. Default 90000. */
  readonly timeoutMs?: number;
  /** Further checks on every span of both processes, e.g. against a documented attribute list. */
  checkSpans?(spans: readonly SpanRecord[]): void;
}

/**
 * One trace across a broker hop: a publish here, handled by a bus in a forked process with its
 * own OpenTelemetry SDK. The consumer's dispatch span is a CONSUMER child of the PRODUCER publish
 * span; its handler span and the application's span nest below; baggage arrives in the handler;
 * a failed first attempt and its retry are both dispatch spans under the same publish span.
 *
 * Call it at the top level of a transport's test file, like `testEventBus`.
 */
export function testCrossProcessTrace(harness: CrossProcessTraceHarness): void {
  const { consumer: group, publisher: publisherGroup } = CROSS_PROCESS_GROUPS;

  describe(`one trace across a ${harness.transport} hop: publish here, handle in a child process`, () => {
    const namespace = harness.namespace();
    let child: ChildProcess | undefined;
    let publisher: BrokerEventBus | undefined;
    beforeAll(registerOtelGlobals);
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // Only set when the test failed before it shut the publisher down itself.
      await publisher?.shutdown(2000);
      await harness.cleanup?.(namespace, [group, publisherGroup]);
    });

    it(
      'publish → dispatch (in the other process) → handle → application span, parent to child, through a retry, with baggage',
      { timeout: harness.timeoutMs ?? 90_000 },
      async () => {
        const tracing = memoryTracing();
        publisher = await harness.publisher(namespace, { group: publisherGroup, tracerProvider: tracing.provider });

        const handled: Array<{ aggregateId: string; tenant: string | null }> = [];
        let childSpans: readonly SpanRecord[] | undefined;
        const { script, args } = harness.consumer(namespace, group);
        const forked = fork(script, [...args], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child = forked;
        const exited = new Promise<void>((resolve) => forked.once('exit', () => resolve()));
        const ready = new Promise<void>((resolve, reject) => {
          forked.on('message', (message: FromConsumer) => {
            if (message.type === 'ready') resolve();
            if (message.type === 'handled') handled.push({ aggregateId: message.aggregateId, tenant: message.tenant });
            if (message.type === 'spans') childSpans = message.spans;
          });
          forked.once('exit', (code, signal) => reject(new Error(`the consumer process (${script}) exited before it was ready (${code ?? signal}); its stderr is above`)));
        });
        await ready;

        const root = tracing.provider.getTracer('app').startSpan('POST /orders');
        const active = propagation.setBaggage(trace.setSpan(context.active(), root), propagation.createBaggage({ tenant: { value: 'acme' } }));
        await context.with(active, () => publisher!.publish([orderPlaced({ aggregateId: HANDLED_AT_ONCE }), orderPlaced({ aggregateId: RETRIED })]));
        root.end();
        await publisher.shutdown();
        publisher = undefined;

        await waitFor('the consumer process to handle both events', () => handled.length === 2, harness.handleTimeoutMs ?? 30_000);
        expect([...handled].sort((a, b) => a.aggregateId.localeCompare(b.aggregateId))).toEqual([
          { aggregateId: HANDLED_AT_ONCE, tenant: 'acme' },
          { aggregateId: RETRIED, tenant: 'acme' },
        ]);
        send(forked, { type: 'stop' });
        await exited;
        expect(childSpans, 'the consumer process reported no spans before it exited').toBeDefined();

        const here = tracing.spans();
        const there = childSpans!;
        const destination = harness.destinations(namespace, CROSS_PROCESS_GROUPS);
        expect(here.map((s) => s.name).sort()).toEqual(['POST /orders', SPAN_NAMES.publish].sort());
        const rootSpan = here.find((s) => s.name === 'POST /orders')!;
        const publish = here.find((s) => s.name === SPAN_NAMES.publish)!;
        // Each event: dispatch, handle, application span; the retried one also its failed first attempt.
        expect(there.map((s) => s.name).sort()).toEqual(
          [APP_SPAN, APP_SPAN, SPAN_NAMES.dispatch, SPAN_NAMES.dispatch, SPAN_NAMES.dispatch, SPAN_NAMES.handle, SPAN_NAMES.handle, SPAN_NAMES.handle].sort(),
        );

        // One trace, linked parent to child across the process boundary (and the retry).
        expect(new Set([...here, ...there].map((s) => s.traceId))).toEqual(new Set([rootSpan.traceId]));
        expect(publish.parentSpanId).toBe(rootSpan.spanId);
        expect(publish.kind).toBe('PRODUCER');
        expect(publish.status.code).toBe(SpanStatusCode.UNSET);
        expect(publish.attributes).toEqual({
          'messaging.system': harness.system,
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'publish',
          'messaging.destination.name': destination.publish,
          'messaging.batch.message_count': 2,
        });

        const dispatches = there.filter((s) => s.name === SPAN_NAMES.dispatch).sort((a, b) => a.startNs - b.startNs);
        for (const dispatch of dispatches) {
          expect(dispatch.parentSpanId).toBe(publish.spanId);
          expect(dispatch.kind).toBe('CONSUMER');
          expect(dispatch.attributes).toMatchObject({
            'messaging.system': harness.system,
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            'messaging.destination.name': destination.dispatch,
            'messaging.consumer.group.name': group,
            'eventsource.event.type': TRACE_EVENT.eventType,
            'eventsource.aggregate.type': TRACE_EVENT.aggregateType,
          });
          expect(dispatch.attributes['eventsource.event.id']).toMatch(/^[\da-f-]{36}$/);
        }
        const attemptsOf = (aggregateId: string) => dispatches.filter((s) => s.attributes['eventsource.aggregate.id'] === aggregateId);
        const outcomes = (spans: readonly SpanRecord[]) => spans.map((s) => [s.attributes['eventsource.attempt'], s.attributes['eventsource.outcome'], s.status.code]);
        expect(outcomes(attemptsOf(HANDLED_AT_ONCE))).toEqual([[1, 'ack', SpanStatusCode.UNSET]]);
        expect(outcomes(attemptsOf(RETRIED))).toEqual([
          [1, 'retry', SpanStatusCode.ERROR],
          [2, 'ack', SpanStatusCode.UNSET],
        ]);
        expect(attemptsOf(RETRIED)[0]!.attributes['error.type']).toBe('TypeError');

        for (const dispatch of dispatches) {
          const failed = dispatch.status.code === SpanStatusCode.ERROR;
          const handles = there.filter((s) => s.name === SPAN_NAMES.handle && s.parentSpanId === dispatch.spanId);
          expect(handles).toHaveLength(1);
          const handle = handles[0]!;
          expect(handle.kind).toBe('INTERNAL');
          expect(handle.attributes).toMatchObject({ 'eventsource.handler.name': TRACE_HANDLER, 'eventsource.attempt': dispatch.attributes['eventsource.attempt'] });
          expect(handle.status).toEqual(failed ? { code: SpanStatusCode.ERROR, message: DECLINED } : { code: SpanStatusCode.UNSET, message: undefined });
          // The application's span nests under the handler's span, on every successful attempt.
          expect(there.filter((s) => s.name === APP_SPAN && s.parentSpanId === handle.spanId)).toHaveLength(failed ? 0 : 1);
        }

        harness.checkSpans?.([...here, ...there]);
      },
    );
  });
}

function send(child: ChildProcess, message: ToConsumer): void {
  child.send(message);
}
