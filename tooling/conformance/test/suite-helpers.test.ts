import { describe, expect, it } from 'vitest';
import { EVERY_CAPABILITY, describeRegistration, eventually, gate, scenarioCount, withTimeout, type ConformanceCapabilities } from '../src/index.js';
import { ALL_SCENARIOS } from '../src/test-event-bus.js';

const none: ConformanceCapabilities = {
  retries: false,
  retryDoesNotBlock: false,
  competingConsumers: false,
  fanOutAcrossGroups: false,
  redeliveryAfterCrash: false,
  dlqAdmin: false,
  rawInjection: false,
};
const all = EVERY_CAPABILITY;

describe('eventually', () => {
  it('resolves with the value once the check stops throwing', async () => {
    let calls = 0;
    const value = await eventually(() => {
      calls++;
      if (calls < 3) throw new Error('not yet');
      return 'done';
    }, 1000);
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('treats a false result as not met', async () => {
    let n = 0;
    await expect(eventually(() => ++n >= 2, 1000)).resolves.toBe(true);
    await expect(eventually(() => false, 30)).rejects.toThrow(/not met within 30 ms: the check returned false/);
  });

  it('rethrows the last failure, prefixed with the wait, when time runs out', async () => {
    const failure = eventually(() => expect(1).toBe(2), 30);
    await expect(failure).rejects.toThrow(/not met within 30 ms: .*expected 1 to be 2/);
  });

  it('awaits async checks', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 20);
    await expect(eventually(async () => ready, 1000)).resolves.toBe(true);
  });
});

describe('withTimeout and gate', () => {
  it('withTimeout passes a settled value through and rejects a promise that never settles', async () => {
    await expect(withTimeout(Promise.resolve(7), 100, 'quick')).resolves.toBe(7);
    const never = gate();
    await expect(withTimeout(never.promise, 20, 'stuck publish')).rejects.toThrow('stuck publish did not settle within 20 ms');
  });

  it('a gate stays shut until opened', async () => {
    const g = gate();
    let passed = false;
    const waiter = g.promise.then(() => (passed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(passed).toBe(false);
    expect(g.isOpen).toBe(false);
    g.open();
    await waiter;
    expect(passed).toBe(true);
    expect(g.isOpen).toBe(true);
  });
});

describe('scenario registration', () => {
  it('every scenario title is unique within its area', () => {
    const keys = ALL_SCENARIOS.map((s) => `${s.area} > ${s.title}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('with every capability, every scenario runs; with none, only the unconditional ones', () => {
    expect(scenarioCount(all)).toBe(ALL_SCENARIOS.length);
    expect(scenarioCount(none)).toBe(ALL_SCENARIOS.filter((s) => (s.requires ?? []).length === 0).length);
    expect(scenarioCount(none)).toBeGreaterThanOrEqual(25);
  });

  it('each capability gates scenarios: turning it off removes exactly those that need it', () => {
    for (const capability of Object.keys(all) as Array<keyof ConformanceCapabilities>) {
      const gated = ALL_SCENARIOS.filter((s) => s.requires?.includes(capability)).length;
      expect(gated, `${capability} gates at least one scenario`).toBeGreaterThan(0);
      expect(scenarioCount({ ...all, [capability]: false }), capability).toBe(ALL_SCENARIOS.length - gated);
    }
  });

  it('the registration line names the count and what is not applicable', () => {
    const line = describeRegistration({ name: 'broker-x', capabilities: { ...all, competingConsumers: false } });
    const missing = ALL_SCENARIOS.length - scenarioCount({ ...all, competingConsumers: false });
    expect(line).toBe(`conformance[broker-x]: ${ALL_SCENARIOS.length - missing} scenarios (${missing} not applicable: competing consumers)`);
    expect(describeRegistration({ name: 'full', capabilities: all })).toBe(`conformance[full]: ${ALL_SCENARIOS.length} scenarios`);
  });
});
