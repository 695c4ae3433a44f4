import { EnvelopeDecodeError } from '../errors.js';

// Cheap pre-check: only when the raw text could contain a dangerous key do we walk the parsed tree.
// A key can also be spelled with escapes ("\u005f_proto__"), so any escaped ASCII char counts too.
const SUSPICIOUS = /"(?:__proto__|constructor)"\s*:|\\u00/;

/**
 * JSON.parse that refuses `__proto__` and `constructor` keys anywhere in the document. JSON.parse
 * itself is safe, but a parsed `__proto__` own key turns into prototype pollution the moment any
 * code merges the object with Object.assign or a naive deep merge, so such input never gets past
 * the codec.
 */
export function parseJsonSafely(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EnvelopeDecodeError('malformed_json', `Message body is not valid JSON (${(error as Error).message}).`);
  }
  if (mightHaveForbiddenKey(text) && SUSPICIOUS.test(text)) assertNoForbiddenKeys(value, '$');
  return value;
}

/**
 * Every SUSPICIOUS match contains one of these substrings, so this only skips the regex when it
 * cannot match. Plain substring search costs about half the regex, which starts a match attempt at
 * every `"` of the body; this runs once per consumed message. ("structor" rather than
 * "constructor": searches start at the first character, and `c` is frequent in hex ids.)
 */
function mightHaveForbiddenKey(text: string): boolean {
  return text.includes('__proto__') || text.includes('structor') || text.includes('\\u00');
}

function assertNoForbiddenKeys(value: unknown, path: string): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => assertNoForbiddenKeys(item, `${path}[${index}]`));
    return;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor') {
      throw new EnvelopeDecodeError('forbidden_key', `Message body contains the forbidden key "${key}" at ${path}.`);
    }
    assertNoForbiddenKeys((value as Record<string, unknown>)[key], `${path}.${key}`);
  }
}
