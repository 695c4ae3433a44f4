import { EnvelopeCodec } from '@eventsource/core';
import { describe, expect, it } from 'vitest';
import { decodeRetryPayload, encodeRetryPayload, envelopeToFields, fieldsToMessage, messageToFields, parseEntries, readReplyEntries } from '../src/entry.js';
import { redact } from '../src/connection.js';
import { order, registry } from './support/redis.js';

describe('stream entry fields', () => {
  it('carry the envelope headers, the key and the body, and read back the same', async () => {
    const codec = new EnvelopeCodec({ registry });
    const event = order(7, 'gift');
    const envelope = codec.encode(event, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const fields = envelopeToFields(envelope);
    expect(fields.slice(-4)).toEqual(['key', 'order-7', 'body', envelope.body]);
    const message = fieldsToMessage(fields);
    expect(message.key).toBe('order-7');
    expect({ ...message.headers }).toEqual(envelope.headers);
    const decoded = await codec.decode({ headers: message.headers, body: message.body! });
    expect(decoded.eventId).toBe(event.eventId);
    expect(messageToFields(message.headers, message)).toEqual(fields);
  });

  it('treats a field named __proto__ as data', () => {
    const message = fieldsToMessage(['__proto__', 'x', 'constructor', 'y', 'body', '{}']);
    expect(Object.getOwnPropertyDescriptor(message.headers, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(message.headers)).toBe(Object.prototype);
    expect(message.headers['constructor']).toBe('y');
    expect(message.body).toBe('{}');
  });

  it('reads XREADGROUP replies in RESP2 and RESP3 shapes', () => {
    const entries = [['1-0', ['a', '1']]];
    expect(readReplyEntries([['s', entries]])).toBe(entries);
    expect(readReplyEntries(['s', entries])).toBe(entries);
    expect(readReplyEntries({ s: entries })).toBe(entries);
    expect(readReplyEntries(null)).toEqual([]);
    expect(parseEntries([['1-0', ['a', '1']], ['2-0', null], 'junk'])).toEqual([
      { id: '1-0', fields: ['a', '1'] },
      { id: '2-0', fields: null },
    ]);
  });

  it('round-trips retry payloads and rejects anything else', () => {
    const payload = { o: '1-0', f: ['body', '{}'] };
    expect(decodeRetryPayload(encodeRetryPayload(payload))).toEqual(payload);
    expect(decodeRetryPayload('nope')).toBeUndefined();
    expect(decodeRetryPayload('{"o":1,"f":[]}')).toBeUndefined();
    expect(decodeRetryPayload('{"o":"1-0","f":[1]}')).toBeUndefined();
  });

  it('redacts credentials in error messages', () => {
    expect(redact('connect to redis://u:pw@host:1 failed')).toBe('connect to redis://u:***@host:1 failed');
  });
});
