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
 * is written. When it is pending for another member (this consumer stalled past `reclaimIdleMs`
 * and that member took it over), it is that member's to settle, and nothing is written here. The
 * last ARGV is this consumer's name. The XACK comes last, after every write: a script that fails
 * halfway is not rolled back, and an acknowledgement without its successor would lose the entry.
 */
const SETTLED_ELSEWHERE = `local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 and #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) > 0 then return 0 end
if #pending > 0 and pending[1][2] ~= ARGV[#ARGV] then return 0 end`;

/** KEYS stream, schedule, data · ARGV group, entryId, delayMs, retryId, payload, consumer. 0 when another member settled or holds the entry. */
export const STREAM_TO_RETRY = script(`${NOW}
${SETTLED_ELSEWHERE}
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1`);

/**
 * A retry's data hash holds, next to its payload under its id: `#<id>`, how often it was handed
 * out (lowered again when handed back unstarted, so a hand-back costs nothing), and `@<id>`, its
 * hand-out token: raised by every claim and never lowered, so a holder's token matches only until
 * someone else claims the retry (a count that goes down again could match a stale holder once
 * more). A retry stored before tokens existed has no `@<id>`; its next claim starts it at 1.
 */
function holds(id: string, token: string): string {
  return `redis.call('HGET', KEYS[2], '@' .. ${id}) == ${token}`;
}

/**
 * Whether the retry ARGV[1] is still this holder's to settle (ARGV[tokenArg] is its token). When
 * it is gone from the schedule, another member settled it; when its token changed, this holder
 * stalled past the visibility timeout and another member claimed it, and it is that member's to
 * settle (like a stream entry pending for another member).
 */
function stillHeld(tokenArg: number): string {
  return `if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if not (${holds('ARGV[1]', `ARGV[${tokenArg}]`)}) then return 0 end`;
}

/** KEYS schedule, data · ARGV oldId, newId, delayMs, payload, token. 0 when another member settled or holds oldId. Writes before it removes. */
export const RETRY_TO_RETRY = script(`${NOW}
${stillHeld(5)}
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
if ARGV[1] ~= ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1], '@' .. ARGV[1])
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

/** KEYS stream, dlq · ARGV group, entryId, consumer, dlqMaxLen, field, value, … 0 when another member settled or holds the entry. */
export const STREAM_TO_DLQ = script(`${SETTLED_ELSEWHERE.replace('ARGV[#ARGV]', 'ARGV[3]')}
${addDeadLetter(2, 4)}
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1`);

/** KEYS schedule, data, dlq · ARGV retryId, token, dlqMaxLen, field, value, … 0 when another member settled or holds the retry. */
export const RETRY_TO_DLQ = script(`${stillHeld(2)}
${addDeadLetter(3, 3)}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1], '@' .. ARGV[1])
return 1`);

/**
 * Hands claimed retries that never started back to the schedule: due now, and their hand-out
 * count back to what it was, so that giving them back costs them nothing. Only those still held
 * under the token given: one another member claimed meanwhile (this consumer stalled past the
 * visibility timeout) stays with that member, instead of becoming due while it runs there.
 * KEYS schedule, data · ARGV id, token, id, token, …
 */
export const RELEASE_RETRIES = script(`${NOW}
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) and ${holds('ARGV[i]', 'ARGV[i + 1]')} then
    redis.call('ZADD', KEYS[1], now, ARGV[i])
    if redis.call('HINCRBY', KEYS[2], '#' .. ARGV[i], -1) < 0 then redis.call('HSET', KEYS[2], '#' .. ARGV[i], 0) end
  end
end
return 1`);

/**
 * Removes a consumer from the group when it holds no pending entries and has been idle at least
 * ARGV[3] ms: this consumer at a clean shutdown (0), or a member that crashed long ago, so names
 * with a random suffix do not pile up in XINFO CONSUMERS. Checked and removed in one step, so a
 * member that just read an entry is never removed. 1 when removed.
 * KEYS stream · ARGV group, consumer, minIdleMs
 */
export const DELETE_IDLE_CONSUMER = script(`if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
local minIdle = tonumber(ARGV[3])
if minIdle > 0 then
  local idle = -1
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
    local name, ms
    for j = 1, #c, 2 do
      if c[j] == 'name' then name = c[j + 1] elseif c[j] == 'idle' then ms = c[j + 1] end
    end
    if name == ARGV[2] then idle = ms end
  end
  if idle < minIdle then return 0 end
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1`);

/**
 * The keep-alive of entries this consumer is working on: resets their idle time (XCLAIM with
 * min-idle 0 and JUSTID, which counts no delivery), but only for those still pending for this
 * consumer. An entry another member took over while this one stalled stays with that member.
 * Returns the ids pending for another member now (settled ones are skipped).
 * KEYS stream · ARGV group, consumer, id, …
 */
export const KEEP_ALIVE = script(`local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p > 0 then
    if p[1][2] == ARGV[2] then redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    else lost[#lost + 1] = ARGV[i] end
  end
end
return lost`);

/**
 * Gives stream entries fetched but never started back to the group: pending, already idle for
 * ARGV[3] ms (so the next XAUTOCLAIM of a live member takes them) and with their delivery count
 * lowered again. Only entries still pending for this consumer: one another member took over is
 * left alone. KEYS stream · ARGV group, consumer, idleMs, id, count, id, count, …
 */
export const HAND_BACK = script(`for i = 4, #ARGV, 2 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p > 0 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'RETRYCOUNT', ARGV[i + 1], 'JUSTID')
  end
end
return 1`);

/**
 * A retry handled successfully leaves the schedule, whoever holds it now: like XACK of a stream
 * entry, a success settles it, even one that a member which stalled past the visibility timeout
 * reports (the other holder's own settlement then finds it gone and writes nothing).
 * KEYS schedule, data · ARGV retryId
 */
export const RETRY_DONE = script(`redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], '#' .. ARGV[1], '@' .. ARGV[1])
return 1`);

/**
 * Takes up to ARGV[1] due retries for this consumer: each is pushed ARGV[2] ms into the future (a
 * visibility timeout the holder keeps extending while it works), its hand-out count goes up and
 * it gets a new hand-out token, which the holder passes to every later script on it.
 * A due retry whose entry is gone from the data hash (evicted: Redis is not on `noeviction`) is
 * removed and returned by id, to be counted and logged.
 * Returns { {id, payload, deliveries, token}, … }, the ms until the next retry is due (-1: none),
 * and { missing id, … }. KEYS schedule, data · ARGV count, visibilityMs
 */
export const CLAIM_DUE_RETRIES = script(`${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out, missing = {}, {}
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    out[#out + 1] = { id, payload, redis.call('HINCRBY', KEYS[2], '#' .. id, 1), redis.call('HINCRBY', KEYS[2], '@' .. id, 1) }
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], '#' .. id, '@' .. id)
    missing[#missing + 1] = id
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if nxt[2] then wait = math.max(0, tonumber(nxt[2]) - now) end
return { out, wait, missing }`);

/**
 * Extends the visibility timeout of retries still being worked on, only those still held under
 * the token given: a retry another member claimed while this consumer stalled stays with that
 * member, due when its own visibility timeout says. Returns the ids claimed by another member
 * now (settled ones, gone from the schedule, are skipped).
 * KEYS schedule, data · ARGV visibilityMs, id, token, id, token, …
 */
export const TOUCH_RETRIES = script(`${NOW}
local lost = {}
for i = 2, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    if ${holds('ARGV[i]', 'ARGV[i + 1]')} then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
    else lost[#lost + 1] = ARGV[i] end
  end
end
return lost`);

/**
 * Moves one dead letter back to the group's retry schedule, due now. The retry is written first
 * and the dead letter removed last: when Redis refuses the write (a key of the wrong type, an ACL
 * that covers the DLQ but not the retry keys), the dead letter is still there.
 * KEYS dlq, schedule, data · ARGV dlqId, retryId, payload
 */
export const DLQ_TO_RETRY = script(`${NOW}
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
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
