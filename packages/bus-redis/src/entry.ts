import type { Envelope } from '@eventsource/core';

/** Stream fields that are not envelope headers. */
export const BODY_FIELD = 'body';
export const KEY_FIELD = 'key';

/** One stream entry as this transport sees it: envelope headers, plus the body and key fields. */
export interface EntryMessage {
  /** Null-prototype: a field named `__proto__` is just a field. */
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly key: string | undefined;
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

export function fieldsToMessage(fields: readonly string[]): EntryMessage {
  // A plain object keeps one hidden class for the usual envelope fields (a null-prototype object
  // is a slow dictionary). A field named __proto__ is defined as an own property: kept as data,
  // never assigned (which would replace the prototype).
  const headers: Record<string, string> = {};
  let body: string | undefined;
  let key: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name === BODY_FIELD) body = value;
    else if (name === KEY_FIELD) key = value;
    else if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
    else headers[name] = value;
  }
  return { headers, body, key };
}

/** Headers plus key and body back into a flat field list (for retry copies and dead letters). */
export function messageToFields(headers: Readonly<Record<string, string>>, message: Pick<EntryMessage, 'body' | 'key'>): string[] {
  const fields: string[] = [];
  for (const name in headers) fields.push(name, headers[name]!);
  if (message.key !== undefined) fields.push(KEY_FIELD, message.key);
  if (message.body !== undefined) fields.push(BODY_FIELD, message.body);
  return fields;
}

/** What the retry schedule stores per retry: the original stream id and the entry to hand out again. */
export interface RetryPayload {
  /** Id of the original stream entry. */
  readonly o: string;
  readonly f: readonly string[];
}

export function encodeRetryPayload(payload: RetryPayload): string {
  return JSON.stringify(payload);
}

export function decodeRetryPayload(text: string): RetryPayload | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object') return undefined;
    const { o, f } = value as { o?: unknown; f?: unknown };
    if (typeof o !== 'string' || !Array.isArray(f) || !f.every((x) => typeof x === 'string')) return undefined;
    return { o, f: f as string[] };
  } catch {
    return undefined;
  }
}

/** Parses an XREADGROUP / XRANGE / XAUTOCLAIM entry list; entries deleted by trimming come back with null fields. */
export function parseEntries(raw: unknown): Array<{ id: string; fields: string[] | null }> {
  if (!Array.isArray(raw)) return [];
  const out: Array<{ id: string; fields: string[] | null }> = [];
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields = item[1];
    out.push({ id: item[0], fields: Array.isArray(fields) ? (fields as unknown[]).map(String) : null });
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
    if (typeof reply[0] === 'string') return reply[1];
    return Array.isArray(reply[0]) ? (reply[0] as unknown[])[1] : [];
  }
  if (typeof reply === 'object') return Object.values(reply as Record<string, unknown>)[0];
  return [];
}
