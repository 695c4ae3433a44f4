import { describe, expect, it } from 'vitest';
import { EnvelopeDecodeError } from '../../src/index.js';
import { parseJsonSafely } from '../../src/transport.js';

function reasonOf(text: string): string | undefined {
  try {
    parseJsonSafely(text);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeDecodeError);
    return (error as EnvelopeDecodeError).reason;
  }
}

describe('parseJsonSafely', () => {
  it('parses ordinary JSON of any shape', () => {
    expect(parseJsonSafely('{"a":[1,{"b":null}],"c":"constructor"}')).toEqual({ a: [1, { b: null }], c: 'constructor' });
    expect(parseJsonSafely('[1,2]')).toEqual([1, 2]);
    expect(parseJsonSafely('"text"')).toBe('text');
    expect(parseJsonSafely('"caf\\u00e9"')).toBe('café');
  });

  it('reports malformed JSON', () => {
    expect(reasonOf('{"a":')).toBe('malformed_json');
    expect(reasonOf('')).toBe('malformed_json');
  });

  it.each([
    ['{"__proto__":{"x":1}}', '$'],
    ['{"a" :{"constructor" : {}}}', '$.a'],
    ['{"list":[0,{"__proto__":{}}]}', '$.list[1]'],
    ['[{"deep":[{"constructor":{"prototype":{}}}]}]', '$[0].deep[0]'],
    ['{"\\u005f_proto__":{}}', '$'],
    ['{"x":{"\\u0063onstructor":1}}', '$.x'],
  ])('refuses %s, reporting the path %s', (text, path) => {
    expect(() => parseJsonSafely(text)).toThrow(`at ${path}.`);
    expect(reasonOf(text)).toBe('forbidden_key');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('walks suspicious-looking text that turns out to be harmless', () => {
    expect(parseJsonSafely('{"note":"\\u0041 \\"constructor\\": is only text"}')).toEqual({
      note: 'A "constructor": is only text',
    });
  });
});
