import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * The Lua scripts behind every settlement that touches more than one key. A script runs
 * atomically, so "write the retry / dead letter" and "acknowledge the original" happen together:
 * a crash between the two cannot lose or duplicate an entry. A script that fails halfway is not
 * rolled back, so each one writes first and acknowledges or removes the original last. Times come from the
 * server's clock (TIME), so consumers with skewed clocks still agree on when a retry is due.
 */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Whether the successor (retry, dead letter) of stream entry ARGV[2] should be written. When it
 * is no longer pending: if it is still in the stream, another member took it over and settled
 * it, so a second copy would handle it twice; if it is gone from the stream (trimmed: Redis 7
 * then also drops it from the pending list), this consumer's copy is the only one left, and it
 * is written. The XACK comes last, after every write: a script that fails halfway is not rolled
 * back, and an acknowledgement without its successor would lose the entry.
 */
const SETTLED_ELSEWHERE = `if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 and #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) > 0 then return 0 end`;

/** KEYS stream, schedule, data · ARGV group, entryId, delayMs, retryId, payload. 0 when another member settled the entry. */
export const STREAM_TO_RETRY = script(`${NOW}
${SETTLED_ELSEWHERE}
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1`);

/** KEYS schedule, data · ARGV oldId, newId, delayMs, payload. 0 when another consumer settled oldId. Writes before it removes. */
export const RETRY_TO_RETRY = script(`${NOW}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
if ARGV[1] ~= ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1])
end
return 1`);

/**
 * ARGV from `first`: dlqMaxLen (0: untrimmed), then the dead letter's field, value, … (none: no
 * dead letter, settle only). unpack() is bounded: Lua's stack holds ~8000 values, so the settler
 * never passes more than MAX_DEAD_LETTER_VALUES.
 */
function addDeadLetter(dlqKey: number, first: number): string {
  return `if #ARGV > ${first} then
  local maxLen = tonumber(ARGV[${first}])
  if maxLen > 0 then redis.call('XADD', KEYS[${dlqKey}], 'MAXLEN', maxLen, '*', unpack(ARGV, ${first + 1}))
  else redis.call('XADD', KEYS[${dlqKey}], '*', unpack(ARGV, ${first + 1})) end
end`;
}

/** Most field names and values one dead letter may carry through a script's ARGV. */
export const MAX_DEAD_LETTER_VALUES = 2000;

/** KEYS stream, dlq · ARGV group, entryId, dlqMaxLen, field, value, … 0 when another member settled the entry. */
export const STREAM_TO_DLQ = script(`${SETTLED_ELSEWHERE}
${addDeadLetter(2, 3)}
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1`);

/** KEYS schedule, data, dlq · ARGV retryId, dlqMaxLen, field, value, … 0 when another consumer settled the retry. */
export const RETRY_TO_DLQ = script(`if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
${addDeadLetter(3, 2)}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1])
return 1`);

/**
 * Hands claimed retries that never started back to the schedule: due now, and their hand-out
 * count back to what it was, so that giving them back costs them nothing.
 * KEYS schedule, data · ARGV id, …
 */
export const RELEASE_RETRIES = script(`${NOW}
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now, ARGV[i])
    if redis.call('HINCRBY', KEYS[2], '#' .. ARGV[i], -1) < 0 then redis.call('HSET', KEYS[2], '#' .. ARGV[i], 0) end
  end
end
return 1`);

/**
 * Removes this consumer from the group when it holds no pending entries (a clean shutdown), so
 * names with a random suffix do not pile up in XINFO CONSUMERS. KEYS stream · ARGV group, consumer
 */
export const DELETE_IDLE_CONSUMER = script(`local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])`);

/** KEYS schedule, data · ARGV retryId */
export const RETRY_DONE = script(`redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1])
return 1`);

/**
 * Takes up to ARGV[1] due retries for this consumer: each is pushed ARGV[2] ms into the future (a
 * visibility timeout the holder keeps extending while it works) and its hand-out count goes up.
 * Returns { {id, payload, deliveries}, … } and the ms until the next retry is due (-1: none).
 * KEYS schedule, data · ARGV count, visibilityMs
 */
export const CLAIM_DUE_RETRIES = script(`${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
  local n = redis.call('HINCRBY', KEYS[2], '#' .. id, 1)
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    out[#out + 1] = { id, payload, n }
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], '#' .. id)
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if nxt[2] then wait = math.max(0, tonumber(nxt[2]) - now) end
return { out, wait }`);

/** Extends the visibility timeout of retries still being worked on. KEYS schedule · ARGV visibilityMs, id, … */
export const TOUCH_RETRIES = script(`${NOW}
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return 1`);

/** Moves one dead letter back to the group's retry schedule, due now. KEYS dlq, schedule, data · ARGV dlqId, retryId, payload */
export const DLQ_TO_RETRY = script(`${NOW}
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[2])
return 1`);

/**
 * Counts one start of a suspect entry and returns the count so far. The key expires by itself, so
 * the journal never needs cleaning. KEYS journal key · ARGV ttlMs
 */
export const RECORD_START = script(`local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return n`);

/** KEYS dlq · returns how many entries were deleted. */
export const PURGE = script(`local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n`);

/**
 * Creates the group with its read counter set, so Redis can tell later how many entries were
 * trimmed before the group read them: starting at 0, entries already trimmed away count as read
 * (they were gone before the group existed); starting at $, everything so far does.
 * KEYS stream · ARGV group, '0' | '$'
 */
export const CREATE_GROUP = script(`local read = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  local added, len = 0, 0
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1] elseif info[i] == 'length' then len = info[i + 1] end
  end
  if ARGV[2] == '$' then read = added else read = added - len end
end
return redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM', 'ENTRIESREAD', read)`);

/** EVALSHA, falling back to EVAL once when the server does not know the script (e.g. after a restart). */
export async function runScript(
  client: Redis | Cluster,
  lua: LuaScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  try {
    return await client.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return client.eval(lua.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
