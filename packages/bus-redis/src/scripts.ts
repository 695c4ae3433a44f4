import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * The Lua scripts behind every settlement that touches more than one key. A script runs
 * atomically, so "write the retry / dead letter" and "acknowledge the original" happen together
 * or not at all: a crash between the two cannot lose or duplicate an entry. Times come from the
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

/** KEYS stream, schedule, data · ARGV group, entryId, delayMs, retryId, payload */
export const STREAM_TO_RETRY = script(`${NOW}
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])`);

/** KEYS schedule, data · ARGV oldId, newId, delayMs, payload. 0 when another consumer settled oldId. */
export const RETRY_TO_RETRY = script(`${NOW}
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
return 1`);

/** KEYS stream, dlq · ARGV group, entryId, field, value, … (empty field list: ack only) */
export const STREAM_TO_DLQ = script(`if #ARGV > 2 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) end
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])`);

/** KEYS schedule, data, dlq · ARGV retryId, field, value, … (empty field list: drop only) */
export const RETRY_TO_DLQ = script(`if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1])
if #ARGV > 1 then redis.call('XADD', KEYS[3], '*', unpack(ARGV, 2)) end
return 1`);

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

/** KEYS dlq · returns how many entries were deleted. */
export const PURGE = script(`local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n`);

/** EVALSHA, falling back to EVAL once when the server does not know the script (e.g. after a restart). */
export async function runScript(
  client: Redis | Cluster,
  lua: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
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
