import { describe, expect, it } from 'vitest';
import { CONSUMER_CASES, runBrokerScenario, type RunningSubject, type SubjectFactory } from '../src/harness/broker-scenario.js';
import { BATCH_SIZE, measurePublishCases, type PublishSubjects } from '../src/harness/publish-cases.js';
import { QUICK_SETTINGS, type BenchSettings, type ScenarioContext } from '../src/harness/scenario.js';
import { withTimeout } from '../src/harness/wait.js';

const context = (settings: BenchSettings): ScenarioContext => ({ settings, progress: () => {} });

/**
 * In-process stand-ins for a broker subject: every published event is handed to the consumers
 * at once (twice when `redeliver`, as an at-least-once broker may). They exercise the driver's
 * bookkeeping only; the broker scenarios run against real brokers.
 */
function loopback(name: string, options: { redeliver?: boolean; failPublishOne?: boolean } = {}) {
  const started: Array<{ namespace: string; consumers: number }> = [];
  const factory: SubjectFactory<RunningSubject & { publishQuietly(events: readonly { eventId: string }[]): Promise<void> }> = {
    name,
    async start(namespace, consumers, onHandled) {
      started.push({ namespace, consumers });
      const deliver = (events: readonly { eventId: string }[]): void => {
        for (const event of events) {
          onHandled(event.eventId);
          if (options.redeliver) onHandled(event.eventId);
        }
      };
      return {
        publishBatch: async (events) => deliver(events),
        publishQuietly: async (events) => deliver(events),
        publishOne: async (event) => {
          deliver([event]);
          if (options.failPublishOne) throw new Error('not confirmed');
        },
        close: async () => {},
      };
    },
  };
  return { factory, started };
}

describe('runBrokerScenario', () => {
  it('gives one row per case and subject, then one latency row per subject, cleaning up every run', async () => {
    const a = loopback('a');
    const b = loopback('b', { redeliver: true });
    const cleaned: string[] = [];
    let quietBatches = 0;
    const { measurements, sizes } = await runBrokerScenario(context(QUICK_SETTINGS), {
      namespaces: { separator: ':', cleanUp: async (namespace) => void cleaned.push(namespace) },
      subjects: [a.factory, b.factory],
      cases: [
        ...CONSUMER_CASES,
        {
          name: 'quietly',
          consumers: 2,
          publish: (running, batch) => {
            quietBatches++;
            return running.publishQuietly(batch);
          },
        },
      ],
      latencyWarmupEvents: 3,
    });

    expect(measurements.map((m) => [m.case, m.subject])).toEqual([
      ['end to end, 1 consumer', 'a'],
      ['end to end, 1 consumer', 'b'],
      ['end to end, 3 consumers', 'a'],
      ['end to end, 3 consumers', 'b'],
      ['quietly', 'a'],
      ['quietly', 'b'],
      ['latency at 1000/s', 'a'],
      ['latency at 1000/s', 'b'],
    ]);
    for (const m of measurements.slice(0, 6)) {
      expect(m.opsPerSecRuns).toHaveLength(sizes.repeats);
      expect(m.opsPerSec).toBeGreaterThan(0);
    }
    for (const m of measurements.slice(6)) {
      expect(m.latencyRuns).toEqual([expect.objectContaining({ samples: sizes.latencyCount })]);
      expect(m.p99Us).toBeGreaterThanOrEqual(m.p50Us!);
    }
    // The custom publish of a case is used for each of its batches: 20 000 events / 100 per batch, two subjects.
    expect(quietBatches).toBe((2 * sizes.total) / 100);
    // Warm-up, three cases, one latency run: each in a namespace of its own, each cleaned up.
    expect(a.started.map((s) => s.consumers)).toEqual([1, 1, 3, 2, 1]);
    expect(new Set(a.started.map((s) => s.namespace)).size).toBe(5);
    expect(a.started.every((s) => /^esbench:[0-9a-f]{8}$/.test(s.namespace))).toBe(true);
    expect(cleaned.sort()).toEqual([...a.started, ...b.started].map((s) => s.namespace).sort());
  }, 60_000);

  it('fails the latency run when a publish fails, naming the subject, and still cleans up', async () => {
    const subject = loopback('flaky', { failPublishOne: true });
    const cleaned: string[] = [];
    const run = runBrokerScenario(context(QUICK_SETTINGS), {
      namespaces: { separator: '.', cleanUp: async (namespace) => void cleaned.push(namespace) },
      subjects: [subject.factory],
      cases: [],
    });
    await expect(run).rejects.toThrow('flaky: a publish of the latency run failed');
    expect(cleaned).toEqual(subject.started.map((s) => s.namespace));
  }, 60_000);
});

describe('measurePublishCases', () => {
  const settings: BenchSettings = { quick: true, warmupMs: 1, runMs: 1, repeats: 1, maxLatencySamples: 10 };

  function subjects(handlerCount: number, lose: boolean): PublishSubjects {
    let calls = 0;
    return {
      single: [{ name: 'bus', kind: 'async', op: async () => void (calls += handlerCount) }],
      batch: [{ name: 'bus', kind: 'async', unitsPerCall: BATCH_SIZE, op: async () => void (calls += handlerCount * (lose ? BATCH_SIZE - 1 : BATCH_SIZE)) }],
      delivered: () => calls,
      close: async () => {},
    };
  }

  it('measures both cases for 1 and 10 handlers', async () => {
    const rows = await measurePublishCases(context(settings), { makeSubjects: (handlers) => subjects(handlers, false) });
    expect(rows.map((m) => [m.case, m.handlers, m.p50Us !== undefined])).toEqual([
      ['publish 1 event/call', 1, true],
      ['publish 100 events/call', 1, false],
      ['publish 1 event/call', 10, true],
      ['publish 100 events/call', 10, false],
    ]);
  });

  it('refuses to measure a subject that does not deliver every handler call', async () => {
    await expect(measurePublishCases(context(settings), { makeSubjects: (handlers) => subjects(handlers, true) })).rejects.toThrow(
      'bus delivered 99 handler calls, expected 100',
    );
  });
});

describe('withTimeout', () => {
  it('reports the progress made by the time it gave up', async () => {
    let handled = 0;
    const never = new Promise<void>(() => {});
    setTimeout(() => (handled = 7), 5);
    await expect(withTimeout(never, 30, () => `${handled}/10 handled`)).rejects.toThrow('Timed out after 30 ms: 7/10 handled');
  });
});
