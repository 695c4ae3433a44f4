import { isUtf8 } from 'node:buffer';
import type { Envelope } from '@eventsource/core';

/** Stream fields that are not envelope headers. */
export const BODY_FIELD = 'body';
export const KEY_FIELD = 'key';

/** A stream field name or value as read: bytes (entries are read as bytes, so nothing is decoded lossily) or text. */
export type Field = string | Buffer;

/** One stream entry as this transport sees it: envelope headers, plus the body and key fields. */
export interface EntryMessage {
  /** Plain object; a field named `__proto__` is an own property, never the prototype. */
  readonly headers: Record<string, string>;
  /** The body exactly as stored: bytes when read from Redis. */
  readonly body: string | Buffer | undefined;
  readonly key: string | undefined;
  /** Why the entry cannot be decoded although it was read (a field that is not valid UTF-8). */
  readonly invalid?: string | undefined;
  /** Set when the entry, every field counted, is larger than the limit it was read with: its size in bytes. */
  readonly oversized?: number | undefined;
}

/** Flat field list for XADD: the headers, then `key`, then `body`. */
export function envelopeToFields(envelope: Envelope): string[] {
  return appendFields([], envelope);
}

/** Appends the envelope's fields to `args` (e.g. after XADD's leading arguments) and returns it. */
export function appendFields(args: string[], envelope: Envelope): string[] {
  const { headers } = envelope;
  for (const name in headers) args.push(name, headers[name]!);
  args.push(KEY_FIELD, envelope.key, BODY_FIELD, envelope.body);
  return args;
}

/**
 * `maxBytes` bounds the whole entry (names and values of every field; text counted in UTF-16 units,
 * a lower bound of its bytes): a larger one is marked `oversized`, to be dead-lettered as too
 * large, never handled or copied whole into a retry.
 */
export function fieldsToMessage(fields: readonly Field[], maxBytes = Number.POSITIVE_INFINITY): EntryMessage {
  // A plain object keeps one hidden class for the usual envelope fields (a null-prototype object
  // is a slow dictionary). A field named __proto__ is defined as an own property: kept as data,
  // never assigned (which would replace the prototype).
  const headers: Record<string, string> = {};
  let body: string | Buffer | undefined;
  let key: string | undefined;
  let invalid: string | undefined;
  let size = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const rawName = fields[i]!;
    const rawValue = fields[i + 1]!;
    size += rawName.length + rawValue.length;
    if (invalid === undefined && typeof rawName !== 'string' && !isUtf8(rawName)) invalid = `field name ${i / 2 + 1} is not valid UTF-8`;
    const name = typeof rawName === 'string' ? rawName : rawName.toString();
    if (name === BODY_FIELD) {
      body = rawValue;
      continue;
    }
    if (invalid === undefined && typeof rawValue !== 'string' && !isUtf8(rawValue)) invalid = `the value of field "${name}" is not valid UTF-8`;
    const value = typeof rawValue === 'string' ? rawValue : rawValue.toString();
    if (name === KEY_FIELD) key = value;
    else if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
    else headers[name] = value;
  }
  const message: EntryMessage = invalid === undefined ? { headers, body, key } : { headers, body, key, invalid };
  return size > maxBytes ? { ...message, oversized: size } : message;
}

/** Headers plus key and body back into a flat field list (for retry copies and dead letters). */
export function messageToFields(headers: Readonly<Record<string, string>>, message: Pick<EntryMessage, 'body' | 'key'>): Field[] {
  const fields: Field[] = [];
  for (const name in headers) fields.push(name, headers[name]!);
  if (message.key !== undefined) fields.push(KEY_FIELD, message.key);
  if (message.body !== undefined) fields.push(BODY_FIELD, message.body);
  return fields;
}

/**
 * What the retry schedule stores per retry: the original stream id and the entry to hand out
 * again. A body that is not valid UTF-8 (a dead letter being replayed) travels as base64 in `b`,
 * so a replay is byte for byte.
 */
export interface RetryPayload {
  /** Id of the original stream entry. */
  readonly o: string;
  readonly f: readonly string[];
  readonly b?: string;
}

export function encodeRetryPayload(originalId: string, fields: readonly Field[]): string {
  const f: string[] = [];
  let b: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = String(fields[i]);
    const value = fields[i + 1]!;
    if (name === BODY_FIELD && typeof value !== 'string' && !isUtf8(value)) b = value.toString('base64');
    else f.push(name, String(value));
  }
  return JSON.stringify(b === undefined ? { o: originalId, f } : { o: originalId, f, b });
}

export function decodeRetryPayload(text: string): { readonly o: string; readonly f: Field[] } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object') return undefined;
    const { o, f, b } = value as { o?: unknown; f?: unknown; b?: unknown };
    if (typeof o !== 'string' || !Array.isArray(f) || !f.every((x) => typeof x === 'string')) return undefined;
    const fields: Field[] = [...(f as string[])];
    if (typeof b === 'string') fields.push(BODY_FIELD, Buffer.from(b, 'base64'));
    return { o, f: fields };
  } catch {
    return undefined;
  }
}

/** Parses an XREADGROUP / XRANGE / XAUTOCLAIM entry list; entries deleted by trimming come back with null fields. */
export function parseEntries(raw: unknown): Array<{ id: string; fields: Field[] | null }> {
  if (!Array.isArray(raw)) return [];
  const out: Array<{ id: string; fields: Field[] | null }> = [];
  for (const item of raw) {
    if (!Array.isArray(item)) continue;
    const id = item[0];
    if (typeof id !== 'string' && !Buffer.isBuffer(id)) continue;
    const fields = item[1];
    out.push({ id: String(id), fields: Array.isArray(fields) ? (fields as unknown[]).map((f) => (Buffer.isBuffer(f) ? f : String(f))) : null });
  }
  return out;
}

/**
 * The entry list of the one stream in an XREADGROUP reply, whatever the protocol: RESP2 gives
 * `[[key, entries]]`, RESP3 a map that ioredis hands over as `[key, entries]` or `{ key: entries }`.
 */
export function readReplyEntries(reply: unknown): unknown {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    if (typeof reply[0] === 'string' || Buffer.isBuffer(reply[0])) return reply[1];
    return Array.isArray(reply[0]) ? (reply[0] as unknown[])[1] : [];
  }
  if (typeof reply === 'object') return Object.values(reply as Record<string, unknown>)[0];
  return [];
}
