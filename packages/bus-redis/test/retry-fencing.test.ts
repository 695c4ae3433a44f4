/**
 * Retries are fenced like stream entries: each claim of a due retry gives it a new hand-out token,
 * and a consumer that stalled past the visibility timeout (while another member claimed the retry)
 * neither starts it, nor extends, hands back or settles (on failure) the other member's claim.
 * The stall is real: the consumer's event loop is blocked while a second process, member B,
 * claims the retry. Each integration test says how it fails on the code before the tokens.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@eventsource/core';
import { RecordingLogger, gate, type Gate } from '@eventsource/conformance/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../src/index.js';
import {
  CLAIM_DUE_RETRIES,
  RELEASE_RETRIES,
  RETRY_DONE,
  RETRY_TO_DLQ,
  RETRY_TO_RETRY,
  TOUCH_RETRIES,
  runScript,
  type LuaScript,
} from '../src/scripts.js';
import { OrderPlaced, REDIS_URL, broker, order, redisTestScope, waitFor } from './support/redis.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Member B: another process, so it runs while this one's event loop is blocked. Polls until it holds the retry. */
const MEMBER_B = `
import { Redis } from 'ioredis';
const { url, keys, id, source } = JSON.parse(process.env.MEMBER_B);
const redis = new Redis(url);
for (;;) {
  const [items] = await redis.eval(source, 2, ...keys, 10, 60000);
  if (items.some((item) => item[0] === id)) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await redis.quit();
`;

/**
 * Blocks this process's event loop until member B has claimed retry `id` (due again once the
 * visibility timeout of this consumer's claim ran out), with a 60 s visibility of its own.
 */
function stallWhileMemberBClaims(prefix: string, id: string): void {
  const keys = redisKeys(prefix, 'g1', false);
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', MEMBER_B], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, MEMBER_B: JSON.stringify({ url: REDIS_URL, keys: [keys.retrySchedule, keys.retryData], id, source: CLAIM_DUE_RETRIES.source }) },
    timeout: 30_000,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`member B could not claim the retry: ${result.error?.message ?? result.stderr}`);
}

describe.skipIf(!broker)('retries after a stall past their visibility timeout', () => {
  const scope = redisTestScope();
  const gates: Array<{ open: () => void }> = [];
  let raw: Redis;
  beforeAll(async () => {
    raw = scope.raw();
    // Loaded up front: a script Redis does not know is sent a second time (EVAL) after the
    // NOSCRIPT reply, which could overtake the commands the tests use to know it has run.
    for (const lua of [RELEASE_RETRIES, TOUCH_RETRIES, RETRY_TO_RETRY, RETRY_DONE]) await raw.call('SCRIPT', ['LOAD', lua.source]);
  });
  afterAll(() => {
    for (const g of gates) g.open();
  });
  function held(): Gate {
    const g = gate();
    gates.push(g);
    return g;
  }

  /** Consumer A: one handler slot, a 1 s visibility timeout, retries due 300 ms after a failure. */
  async function consumerA(p: string, logger?: Logger) {
    return scope.bus(p, {
      consumerName: 'a',
      maxInFlight: 1,
      reclaimIdleMs: 1000,
      retryBaseDelayMs: 300,
      retryMaxDelayMs: 300,
      maxRetries: 5,
      ...(logger ? { logger } : {}),
    });
  }

  async function onlyRetry(p: string): Promise<string> {
    let ids: string[] = [];
    await waitFor('the failure to be scheduled for a retry', async () => (ids = await raw.zrange(`${p}:retry:g1`, '0', '-1')).length === 1);
    return ids[0]!;
  }

  /** Where the retry stands: ms until due, hand-outs, token. */
  async function retryState(p: string, id: string): Promise<{ dueInMs: number | undefined; handedOut: string | null; token: string | null }> {
    const [score, fields, [seconds, micros]] = await Promise.all([
      raw.zscore(`${p}:retry:g1`, id),
      raw.hmget(`${p}:retry:g1:data`, `#${id}`, `@${id}`),
      raw.time(),
    ]);
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return { dueInMs: score === null ? undefined : Number(score) - now, handedOut: fields[0] ?? null, token: fields[1] ?? null };
  }

  // Before the tokens: the retry was not started (its claim had lapsed), but the hand-back of
  // the fenced retry made it due at once while member B was running it.
  it('a retry fetched before a stall and claimed by another member meanwhile is neither started nor made due again when the slot frees', async () => {
    const p = scope.prefix('retry-stale-start');
    const a = await consumerA(p);
    const release = held();
    const attemptsOnA = new Map<number, number>();
    a.subscribe(OrderPlaced, async (e) => {
      attemptsOnA.set(e.n, (attemptsOnA.get(e.n) ?? 0) + 1);
      if (e.n === 0) throw new Error('first attempt fails');
      await release.promise;
    });
    a.startConsumingInBackground();
    await a.publish([order(0), order(1)]);
    const id = await onlyRetry(p);
    await waitFor('A to claim the retry, queued behind the running handler', async () => (await retryState(p, id)).handedOut === '1' && a.getStats().eventsConsumed === 3);

    // A's event loop is blocked until B holds the retry; then the running handler returns.
    const stalled = held();
    void stalled.promise.then(() => {
      stallWhileMemberBClaims(p, id);
      release.open();
    });
    stalled.open();
    await a.stopConsuming();

    expect(attemptsOnA.get(0)).toBe(1);
    expect(a.getStats().eventsFenced).toBe(1);
    const state = await retryState(p, id);
    expect(state.dueInMs).toBeGreaterThan(30_000);
    expect(state).toMatchObject({ handedOut: '2', token: '2' });
  });

  // Before the tokens: A's hand-back of the retry its lapsed claim fenced made it due at once,
  // with its hand-out count lowered, while member B was running it: handled a second time.
  it('the hand-back of a fenced retry leaves alone one another member claimed during the stall', async () => {
    const p = scope.prefix('retry-stale-handback');
    const a = await consumerA(p);
    const release = held();
    const stalled = held();
    const attemptsOnA = new Map<number, number>();
    let id = '';
    a.subscribe(OrderPlaced, async (e) => {
      attemptsOnA.set(e.n, (attemptsOnA.get(e.n) ?? 0) + 1);
      if (e.n === 0) throw new Error('first attempt fails');
      await stalled.promise;
      stallWhileMemberBClaims(p, id);
      // Still running after the stall: the retry stays queued until its claim lapses and is fenced.
      await release.promise;
    });
    a.startConsumingInBackground();
    await a.publish([order(0), order(1)]);
    id = await onlyRetry(p);
    await waitFor('A to claim the retry, queued behind the running handler', async () => (await retryState(p, id)).handedOut === '1' && a.getStats().eventsConsumed === 3);

    stalled.open();
    await waitFor('A to fence the retry and hand it back', () => a.getStats().eventsFenced === 1);
    release.open();
    // The hand-back went out before the acknowledgement of the handler that held the slot, on the same connection.
    await a.stopConsuming();

    expect(attemptsOnA.get(0)).toBe(1);
    const state = await retryState(p, id);
    expect(state.dueInMs).toBeGreaterThan(30_000);
    expect(state).toMatchObject({ handedOut: '2', token: '2' });
  });

  // Before the tokens: A's keep-alive (ZADD XX) cut B's 60 s visibility timeout down to A's 1 s,
  // and A's failure then wrote the next retry and removed the one B was running.
  it('the keep-alive of a running retry another member claimed does not extend it, revokes its claim, and its failure writes no successor', async () => {
    const p = scope.prefix('retry-stale-running');
    const logger = new RecordingLogger();
    const a = await consumerA(p, logger);
    const stalled = held();
    const release = held();
    let id = '';
    let attempts = 0;
    let stallOver = false;
    a.subscribe(OrderPlaced, async (e) => {
      const attempt = e.n === 0 ? ++attempts : 0;
      if (attempt === 1) throw new Error('first attempt fails');
      await stalled.promise;
      stallWhileMemberBClaims(p, id);
      stallOver = true;
      await release.promise;
      throw new Error('the retry fails too, on the consumer that lost it');
    });
    a.startConsumingInBackground();
    await a.publish([order(0)]);
    id = await onlyRetry(p);
    await waitFor('A to start the retry', () => attempts === 2);

    stalled.open();
    await waitFor('A\u2019s keep-alive after the stall', async () => {
      if (!stallOver) return false;
      if (logger.text.includes('claimed by another member')) return true;
      return ((await retryState(p, id)).dueInMs ?? 0) < 30_000;
    });
    expect(logger.text.split('\n').filter((line) => line.includes('claimed by another member'))).toEqual([expect.stringContaining(id)]);
    expect((await retryState(p, id)).dueInMs).toBeGreaterThan(30_000);

    release.open();
    await a.stopConsuming();
    expect(a.getStats().eventsFailed).toBe(2);
    expect(a.getStats().eventsRetried).toBe(1);
    expect(await raw.zrange(`${p}:retry:g1`, '0', '-1')).toEqual([id]);
    const state = await retryState(p, id);
    expect(state.dueInMs).toBeGreaterThan(30_000);
    expect(state).toMatchObject({ handedOut: '2', token: '2' });
  });
});

describe.skipIf(!broker)('retry scripts and the hand-out token', () => {
  const scope = redisTestScope();
  let raw: Redis;
  beforeAll(() => {
    raw = scope.raw();
  });

  function keysOf(p: string): { schedule: string; data: string; dlq: string } {
    const keys = redisKeys(p, 'g1', false);
    return { schedule: keys.retrySchedule, data: keys.retryData, dlq: keys.dlq };
  }
  function run(lua: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return runScript(raw, lua, keys, args);
  }
  async function claim(p: string): Promise<Array<[string, string, number, number]>> {
    const { schedule, data } = keysOf(p);
    const [items] = (await run(CLAIM_DUE_RETRIES, [schedule, data], [10, 60_000])) as [Array<[string, string, number, number]>];
    return items;
  }
  /** As if the holder's visibility timeout had run out. */
  async function expire(p: string, id: string): Promise<void> {
    await raw.zadd(keysOf(p).schedule, 0, id);
  }

  it('every claim raises the token, a hand-back lowers only the hand-out count, and a stale token changes nothing', async () => {
    const p = scope.prefix('tokens');
    const { schedule, data, dlq } = keysOf(p);
    await raw.hset(data, 'r1', 'payload');
    await raw.zadd(schedule, 0, 'r1');

    expect(await claim(p)).toEqual([['r1', 'payload', 1, 1]]);
    await expire(p, 'r1');
    expect(await claim(p)).toEqual([['r1', 'payload', 2, 2]]);
    const heldUntil = await raw.zscore(schedule, 'r1');

    // The first holder, stale: nothing it does touches the second holder's claim.
    expect(await run(TOUCH_RETRIES, [schedule, data], [1000, 'r1', 1])).toEqual(['r1']);
    await run(RELEASE_RETRIES, [schedule, data], ['r1', 1]);
    expect(await run(RETRY_TO_RETRY, [schedule, data], ['r1', 'r2', 0, 'next', 1])).toBe(0);
    expect(await run(RETRY_TO_DLQ, [schedule, data, dlq], ['r1', 1, 0, 'field', 'value'])).toBe(0);
    expect(await raw.zscore(schedule, 'r1')).toBe(heldUntil);
    expect(await raw.hgetall(data)).toEqual({ r1: 'payload', '#r1': '2', '@r1': '2' });
    expect(await raw.exists(dlq)).toBe(0);

    // The current holder: kept alive, then handed back at no cost; the next claim gets a new token.
    expect(await run(TOUCH_RETRIES, [schedule, data], [1000, 'r1', 2])).toEqual([]);
    await run(RELEASE_RETRIES, [schedule, data], ['r1', 2]);
    expect(await raw.hgetall(data)).toEqual({ r1: 'payload', '#r1': '1', '@r1': '2' });
    expect(await claim(p)).toEqual([['r1', 'payload', 2, 3]]);
    // A token that went back to an earlier value would let the first holder act again; it never does.
    expect(await run(RELEASE_RETRIES, [schedule, data], ['r1', 2])).toBe(1);
    expect(await raw.hget(data, '#r1')).toBe('2');

    expect(await run(RETRY_TO_RETRY, [schedule, data], ['r1', 'r2', 0, 'next', 3])).toBe(1);
    expect(await raw.hgetall(data)).toEqual({ r2: 'next' });
    expect(await raw.zrange(schedule, '0', '-1')).toEqual(['r2']);
  });

  it('a retry stored before tokens existed is claimed fresh; settling removes its count and token', async () => {
    const p = scope.prefix('legacy-retry');
    const { schedule, data, dlq } = keysOf(p);
    await raw.hset(data, 'old', 'payload', '#old', '3');
    await raw.zadd(schedule, 0, 'old');

    expect(await claim(p)).toEqual([['old', 'payload', 4, 1]]);
    expect(await run(RETRY_TO_DLQ, [schedule, data, dlq], ['old', 1, 0, 'field', 'value'])).toBe(1);
    expect(await raw.hgetall(data)).toEqual({});
    expect(await raw.xlen(dlq)).toBe(1);

    await raw.hset(data, 'done', 'payload');
    await raw.zadd(schedule, 0, 'done');
    expect(await claim(p)).toEqual([['done', 'payload', 1, 1]]);
    // A success settles the retry whoever holds it now, like XACK of a stream entry.
    await run(RETRY_DONE, [schedule, data], ['done']);
    expect(await raw.hgetall(data)).toEqual({});
    expect(await raw.zcard(schedule)).toBe(0);
  });
});
