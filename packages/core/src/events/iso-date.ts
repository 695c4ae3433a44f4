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
