import { EnvelopeCodec } from '@eventsource/core';
import { describe, expect, it } from 'vitest';
import { decodeRetryPayload, encodeRetryPayload, envelopeToFields, fieldsToMessage, messageToFields, parseEntries, readReplyEntries } from '../src/entry.js';
import { redact } from '@eventsource/core/transport';
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

  it('keeps body bytes as read and marks an entry whose other fields are not valid UTF-8', () => {
    const body = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const clean = fieldsToMessage([Buffer.from('event-type'), Buffer.from('A'), Buffer.from('body'), body]);
    expect(clean.body).toBe(body);
    expect(clean.invalid).toBeUndefined();
    expect(fieldsToMessage([Buffer.from([0xff]), Buffer.from('x'), Buffer.from('body'), body]).invalid).toMatch(/field name 1 is not valid UTF-8/);
    expect(fieldsToMessage([Buffer.from('event-type'), Buffer.from([0xc3]), Buffer.from('body'), body]).invalid).toMatch(/"event-type" is not valid UTF-8/);
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

  it('round-trips retry payloads, a body that is not UTF-8 byte for byte, and rejects anything else', () => {
    expect(decodeRetryPayload(encodeRetryPayload('1-0', ['event-type', 'A', 'body', '{}']))).toEqual({ o: '1-0', f: ['event-type', 'A', 'body', '{}'] });
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const decoded = decodeRetryPayload(encodeRetryPayload('1-0', ['event-type', 'A', 'body', bytes]));
    expect(decoded?.f[3]).toEqual(bytes);
    expect(decodeRetryPayload('nope')).toBeUndefined();
    expect(decodeRetryPayload('{"o":1,"f":[]}')).toBeUndefined();
    expect(decodeRetryPayload('{"o":"1-0","f":[1]}')).toBeUndefined();
  });

  it('redacts credentials in error messages', () => {
    expect(redact('connect to redis://u:pw@host:1 failed')).toBe('connect to redis://u:***@host:1 failed');
  });
});
