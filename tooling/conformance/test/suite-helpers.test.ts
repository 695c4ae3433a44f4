import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_SCENARIOS, EVERY_CAPABILITY, describeRegistration, scenarioCount, scenarioKey, type ConformanceCapabilities } from '../src/index.js';
import { cell, renderLedger, resolveTransports, type LedgerTransport } from '../src/ledger/ledger.js';
import { buildResults, readAllResults, readResults, resultsFileName, writeResults, type HarnessResults } from '../src/results.js';

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

describe('scenario registration', () => {
  it('every scenario key (area > title) is unique', () => {
    const keys = ALL_SCENARIOS.map(scenarioKey);
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

  it('the optional capabilities are off unless declared', () => {
    const declared = scenarioCount(none);
    expect(scenarioCount({ ...none, orderedPerPublish: false, outage: false, handlerTimeout: false })).toBe(declared);
    expect(scenarioCount({ ...none, handlerTimeout: true })).toBeGreaterThan(declared);
  });

  it('the registration line names the count and what is not applicable', () => {
    const line = describeRegistration({ name: 'broker-x', capabilities: { ...all, competingConsumers: false } });
    const missing = ALL_SCENARIOS.length - scenarioCount({ ...all, competingConsumers: false });
    expect(line).toBe(`conformance[broker-x]: ${ALL_SCENARIOS.length - missing} scenarios (${missing} not applicable: competing consumers)`);
    expect(describeRegistration({ name: 'full', capabilities: all })).toBe(`conformance[full]: ${ALL_SCENARIOS.length} scenarios`);
  });
});

describe('results files and the ledger', () => {
  const first = ALL_SCENARIOS.find((s) => (s.requires ?? []).length === 0)!;
  const dlqOnly = ALL_SCENARIOS.find((s) => s.requires?.length === 1 && s.requires[0] === 'dlqAdmin')!;
  const everyPass = (harness: string, capabilities: ConformanceCapabilities): HarnessResults =>
    buildResults(harness, harness, capabilities, new Map(ALL_SCENARIOS.map((s) => [scenarioKey(s), 'pass'] as const)));

  it('record pass, fail, n/a with the missing capability, and not run; and read back what was written', () => {
    const results = buildResults('broker x', 'broker-x', { ...all, dlqAdmin: false }, new Map([[scenarioKey(first), 'fail']]));
    expect(results.scenarios).toHaveLength(ALL_SCENARIOS.length);
    expect(results.scenarios.find((s) => s.title === first.title)?.status).toBe('fail');
    expect(results.scenarios.find((s) => s.title === dlqOnly.title)).toMatchObject({ status: 'n/a', missing: ['dlqAdmin'] });
    expect(results.scenarios.filter((s) => s.status === 'not run').length).toBe(scenarioCount({ ...all, dlqAdmin: false }) - 1);

    const dir = mkdtempSync(join(tmpdir(), 'conformance-results-'));
    expect(resultsFileName('in-memory (roundTrip)')).toBe('in-memory-roundtrip.json');
    writeResults(results, dir);
    expect(readResults('broker x', dir)).toEqual(results);
    expect(readResults('never ran', dir)).toBeUndefined();
    expect(readAllResults(dir)).toEqual([results]);
    expect(readAllResults(join(dir, 'missing'))).toEqual([]);
  });

  it('a results file joins its transport column, or adds a column for a transport not listed', () => {
    const listed: LedgerTransport[] = [{ transport: 'redis', harnesses: ['redis'] }, { transport: 'kafka', harnesses: [] }];
    const found = [everyPass('redis-cluster', none), everyPass('nats', none), everyPass('redis', none)].map((r) =>
      r.harness === 'redis-cluster' ? { ...r, transport: 'redis' } : r,
    );
    expect(resolveTransports(listed, found)).toEqual([
      { transport: 'redis', harnesses: ['redis', 'redis-cluster'] },
      { transport: 'kafka', harnesses: [] },
      { transport: 'nats', harnesses: ['nats'] },
    ]);
  });

  it('a cell is pass only when every harness of the transport passed; n/a names the capability; no harness says so', () => {
    const memory: LedgerTransport = { transport: 'in-memory', harnesses: ['a', 'b'] };
    const passing = everyPass('a', { ...all, dlqAdmin: false });
    const failing = buildResults('b', 'in-memory', { ...all, dlqAdmin: false }, new Map([[scenarioKey(first), 'fail']]));
    expect(cell(first, memory, new Map([['a', passing], ['b', passing]]))).toBe('pass');
    expect(cell(first, memory, new Map([['a', passing], ['b', failing]]))).toBe('fail');
    expect(cell(first, memory, new Map([['a', passing], ['b', undefined]]))).toBe('not run');
    expect(cell(dlqOnly, memory, new Map([['a', passing], ['b', passing]]))).toBe('n/a (dlqAdmin)');
    expect(cell(first, { transport: 'kafka', harnesses: [] }, new Map())).toBe('no harness');
  });

  it('in a column whose harnesses declare different capabilities, only the harnesses that run a scenario decide it', () => {
    const kafka: LedgerTransport = { transport: 'kafka', harnesses: ['main', 'outage'] };
    const main = everyPass('main', { ...all, outage: false });
    const outage = everyPass('outage', { ...none, brokerLifecycle: true, outage: true });
    const outageOnly = ALL_SCENARIOS.find((s) => s.requires?.includes('outage'))!;
    expect(cell(outageOnly, kafka, new Map([['main', main], ['outage', outage]]))).toBe('pass');
    expect(cell(dlqOnly, kafka, new Map([['main', main], ['outage', outage]]))).toBe('pass');
    const outageFails = buildResults('outage', 'kafka', { ...none, brokerLifecycle: true, outage: true }, new Map([[scenarioKey(outageOnly), 'fail']]));
    expect(cell(outageOnly, kafka, new Map([['main', main], ['outage', outageFails]]))).toBe('fail');
    expect(cell(outageOnly, kafka, new Map([['main', main], ['outage', undefined]]))).toBe('not run');
    const neither = everyPass('outage', { ...none, brokerLifecycle: true });
    expect(cell(outageOnly, kafka, new Map([['main', main], ['outage', neither]]))).toBe('n/a (outage)');
  });

  it('renders one row per scenario and one column per transport, the same bytes for the same results', () => {
    const transports: LedgerTransport[] = [
      { transport: 'in-memory', harnesses: ['mem'] },
      { transport: 'redis', harnesses: ['redis'] },
      { transport: 'kafka', harnesses: [] },
    ];
    const results = new Map([
      ['mem', everyPass('mem', none)],
      ['redis', undefined],
    ]);
    const text = renderLedger(results, transports);
    expect(renderLedger(results, transports)).toBe(text);
    const rows = text.split('\n').filter((line) => line.startsWith('| ') && ALL_SCENARIOS.some((s) => line.includes(` ${s.title.replace(/\|/g, '\\|')} |`)));
    expect(rows).toHaveLength(ALL_SCENARIOS.length);
    expect(text).toContain('| area | scenario | in-memory | redis | kafka |');
    expect(text).toContain(`| ${first.area} | ${first.title} | pass | not run | no harness |`);
    expect(text).toContain(`| ${dlqOnly.area} | ${dlqOnly.title} | n/a (dlqAdmin) | not run | no harness |`);
    expect(text).toContain(`| in-memory | ${scenarioCount(none)} | 0 | ${ALL_SCENARIOS.length - scenarioCount(none)} | 0 |`);
  });
});
