/**
 * `Date#toISOString` costs about 400 ns in V8, more than JSON-encoding the rest of a small event.
 * This formatter gives the identical string in about a third of the time, and repeats the last
 * answer for the same millisecond (events published in a burst share their timestamp).
 */
let lastTime = Number.NaN;
let lastText = '';

export function toIsoString(date: Date): string {
  const time = date.getTime();
  if (time === lastTime) return lastText;
  const year = date.getUTCFullYear();
  // Outside 0000–9999 the ISO form needs a sign and six digits: leave that to the engine.
  if (!(year >= 0 && year <= 9999)) return date.toISOString();
  const text =
    `${year < 1000 ? String(year).padStart(4, '0') : year}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${three(date.getUTCMilliseconds())}Z`;
  lastTime = time;
  lastText = text;
  return text;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function three(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

/**
 * The time of an ISO-8601 date string, exactly as `new Date(text).getTime()` gives it (NaN when
 * invalid). The decoder parses one `occurredAt` per consumed message, and the engine's parser
 * costs about twice this fast path, which reads the one form `toISOString` writes
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, year 1000–9999) digit by digit. Anything else, or any field out of
 * the ranges the engine accepts as is, goes to the engine, so the result never differs.
 */
let lastParsedText = '';
let lastParsedTime = Number.NaN;

export function parseIsoTime(text: string): number {
  // Events published in a burst share their timestamp, as in toIsoString.
  if (text === lastParsedText) return lastParsedTime;
  const time = parseIsoTimeUncached(text);
  lastParsedText = text;
  lastParsedTime = time;
  return time;
}

function parseIsoTimeUncached(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  ) {
    return new Date(text).getTime();
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const ms = digits(text, 20, 3);
  // digits() is -1 for a non-digit. Date.UTC maps years 0–99 to 1900–1999, hence year >= 1000.
  // The engine itself accepts day 31 in every month (rolling over, like Date.UTC) but not hour 24
  // with other fields set: such edge cases are left to it.
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return new Date(text).getTime();
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The decimal number in `text` at [start, start + count), or -1 if any character is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}
