import { EnvelopeDecodeError, InvalidEventError, UnknownEventTypeError, ConfigError, type DecodeFailureReason } from '../errors.js';
import { type AnyEventClass, type DomainEvent, BASE_FIELDS, constructEvent, isDomainEvent } from '../events/domain-event.js';
import { parseIsoTime } from '../events/iso-date.js';
import { formatIssues, type StandardSchemaV1 } from '../events/standard-schema.js';
import { defaultRegistry, type EventRegistry } from '../events/registry.js';
import { HEADER, JSON_CONTENT_TYPE, type EnvelopeHeaders } from './headers.js';
import { parseJsonSafely } from './safe-json.js';

/** An event in wire form: a partition/routing key, string headers and a JSON body. */
export interface Envelope {
  readonly key: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What a transport received: headers (possibly partial or absent) and raw body bytes or text. */
export interface IncomingEnvelope {
  readonly headers?: EnvelopeHeaders | undefined;
  /** Undefined when the message has no body at all (dead-lettered as `missing_field`). */
  readonly body: string | Uint8Array | undefined;
  /**
   * Set by a transport that already found the message undecodable while reading it (e.g. a header
   * that is not valid UTF-8): decoding fails with this reason, and the message is dead-lettered.
   */
  readonly invalid?: { readonly reason: DecodeFailureReason; readonly message: string } | undefined;
}

/** A well-formed event type name: 1 to 255 characters, no white space or control characters. */
const EVENT_TYPE_NAME = /^[^\s\p{Cc}]{1,255}$/u;

let lastWellFormedType: string | undefined;

/** True for a header value that can name an event type; an empty or malformed one is bad input, not "another service's type". */
export function isWellFormedEventType(value: string): boolean {
  // Consecutive messages mostly carry the same type: comparing with the last good one is much
  // cheaper than the Unicode-aware regex, which runs once per consumed message otherwise.
  if (value === lastWellFormedType) return true;
  if (!EVENT_TYPE_NAME.test(value)) return false;
  lastWellFormedType = value;
  return true;
}

export interface EnvelopeCodecOptions {
  /** Where event types are resolved. Default: `defaultRegistry`. */
  registry?: EventRegistry;
  /** Largest body accepted, in bytes, on encode and decode. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Run the event class's payload schema on decode. Default true. */
  validatePayloads?: boolean;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The one codec every transport uses: event ⇄ `{ key, headers, body }`. Decoding trusts nothing:
 * it bounds the size, refuses prototype-polluting keys, checks every base field's type, resolves
 * the class only through the registry and runs the payload schema.
 */
export class EnvelopeCodec {
  readonly registry: EventRegistry;
  readonly maxBodyBytes: number;
  readonly validatePayloads: boolean;

  constructor(options: EnvelopeCodecOptions = {}) {
    this.registry = options.registry ?? defaultRegistry;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isInteger(this.maxBodyBytes) || this.maxBodyBytes <= 0) {
      throw new ConfigError('maxBodyBytes', `must be a positive integer number of bytes; received ${String(options.maxBodyBytes)}.`);
    }
    this.validatePayloads = options.validatePayloads ?? true;
  }

  encode(event: DomainEvent, extraHeaders?: Record<string, string>): Envelope {
    if (!isDomainEvent(event)) {
      throw new InvalidEventError(
        `Only events declared with defineEvent() can be published; received ${describeValue(event)}.`,
      );
    }
    let body: string;
    try {
      body = JSON.stringify(event);
    } catch (error) {
      throw new InvalidEventError(
        `${event.eventType} ${event.eventId} cannot be encoded as JSON (${(error as Error).message}). ` +
          'Payload fields must be JSON values: strings, numbers, booleans, null, arrays, plain objects, Dates.',
        { cause: error },
      );
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit, so short bodies skip the exact count.
    if (body.length * 3 > this.maxBodyBytes && Buffer.byteLength(body) > this.maxBodyBytes) {
      throw new InvalidEventError(
        `${event.eventType} ${event.eventId} encodes to ${Buffer.byteLength(body)} bytes, over maxBodyBytes (${this.maxBodyBytes}). ` +
          'Store large data elsewhere and put a reference in the event, or raise maxBodyBytes on every producer and consumer.',
      );
    }
    const headers: Record<string, string> = {
      [HEADER.eventType]: event.eventType,
      [HEADER.eventId]: event.eventId,
      [HEADER.aggregateType]: event.aggregateType,
      [HEADER.aggregateId]: event.aggregateId,
      [HEADER.aggregateVersion]: String(event.aggregateVersion),
      [HEADER.contentType]: JSON_CONTENT_TYPE,
    };
    if (extraHeaders) Object.assign(headers, extraHeaders);
    return { key: event.aggregateId, headers, body };
  }

  /** The event type named by a message, from its header; undefined when absent. Cheap: no parsing. */
  peekEventType(incoming: IncomingEnvelope): string | undefined {
    return incoming.headers?.[HEADER.eventType];
  }

  /**
   * Decodes or rejects with {@link EnvelopeDecodeError} with a stable `reason`. Not `async`: an
   * async frame would add a second promise and a microtask hop to every decode.
   */
  decode(incoming: IncomingEnvelope): Promise<DomainEvent> {
    try {
      return Promise.resolve(this.decodeNow(incoming));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Like {@link decode}, but returns the event itself unless an async payload schema must be
   * awaited, and throws synchronously. Transports use it to save a promise per message.
   */
  decodeNow(incoming: IncomingEnvelope): DomainEvent | Promise<DomainEvent> {
    if (incoming.invalid) throw new EnvelopeDecodeError(incoming.invalid.reason, incoming.invalid.message);
    const record = this.parseBody(incoming.body);
    const eventType = record.eventType;
    if (typeof eventType !== 'string' || eventType.length === 0) {
      throw new EnvelopeDecodeError('missing_field', 'Message body has no "eventType" string.');
    }
    const headerType = incoming.headers?.[HEADER.eventType];
    if (headerType !== undefined && !isWellFormedEventType(headerType)) {
      throw new EnvelopeDecodeError('invalid_field', `Header event-type ${JSON.stringify(headerType.slice(0, 100))} is empty or malformed.`);
    }
    if (headerType !== undefined && headerType !== eventType) {
      throw new EnvelopeDecodeError(
        'type_mismatch',
        `Header event-type "${headerType}" does not match body eventType "${eventType}".`,
      );
    }
    const cls = this.registry.tryGet(eventType);
    if (!cls) {
      const error = new UnknownEventTypeError(eventType, this.registry.names());
      throw new EnvelopeDecodeError('unknown_event_type', error.message, { cause: error });
    }
    checkBaseFields(record);

    const schema = this.validatePayloads ? cls.payloadSchema : undefined;
    if (!schema) return build(cls, record);
    const payload: Record<string, unknown> = {};
    for (const key of Object.keys(record)) if (!BASE_KEYS.has(key)) payload[key] = record[key];
    const result = schema['~standard'].validate(payload);
    if (result instanceof Promise) return result.then((settled) => withPayload(cls, record, payload, settled));
    return withPayload(cls, record, payload, result);
  }

  private parseBody(body: string | Uint8Array | undefined): Record<string, unknown> {
    if (body === undefined) {
      throw new EnvelopeDecodeError('missing_field', 'Message has no body. Publish with an @eventsource bus, or put the event JSON in the body.');
    }
    let text: string;
    if (typeof body === 'string') {
      if (body.length > this.maxBodyBytes || (body.length * 3 > this.maxBodyBytes && Buffer.byteLength(body) > this.maxBodyBytes)) {
        throw tooLarge(Buffer.byteLength(body), this.maxBodyBytes);
      }
      text = body;
    } else if (body instanceof Uint8Array) {
      if (body.byteLength > this.maxBodyBytes) throw tooLarge(body.byteLength, this.maxBodyBytes);
      try {
        text = utf8.decode(body);
      } catch {
        throw new EnvelopeDecodeError('malformed_json', 'Message body is not valid UTF-8.');
      }
    } else {
      throw new EnvelopeDecodeError('malformed_json', `Message body must be text or bytes; received ${describeValue(body)}.`);
    }
    const value = parseJsonSafely(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new EnvelopeDecodeError('not_an_object', `Message body must be a JSON object; received ${Array.isArray(value) ? 'an array' : describeValue(value)}.`);
    }
    return value as Record<string, unknown>;
  }
}

/** Replaces the payload with the schema's output, so fields it strips do not survive decoding. */
function withPayload(
  cls: AnyEventClass,
  record: Record<string, unknown>,
  payload: Record<string, unknown>,
  result: StandardSchemaV1.Result<unknown>,
): DomainEvent {
  if (result.issues) {
    throw new EnvelopeDecodeError('payload_invalid', `${cls.eventType} payload failed validation: ${formatIssues(result.issues)}.`);
  }
  if (result.value === null || typeof result.value !== 'object') {
    throw new EnvelopeDecodeError('payload_invalid', `${cls.eventType} payload schema must produce an object.`);
  }
  for (const key of Object.keys(payload)) Reflect.deleteProperty(record, key);
  Object.assign(record, result.value);
  return build(cls, record);
}

function build(cls: AnyEventClass, record: Record<string, unknown>): DomainEvent {
  try {
    return constructEvent(cls, record);
  } catch (error) {
    if (error instanceof InvalidEventError) {
      throw new EnvelopeDecodeError('invalid_field', error.message, { cause: error });
    }
    throw error;
  }
}

const BASE_KEYS: ReadonlySet<string> = new Set(BASE_FIELDS);

/**
 * Fields are read by name, not in a loop over a list of names: a variable key makes every read a
 * generic (megamorphic) lookup, and this runs once per consumed message. Checked in this order, so
 * the first failing field is the one reported.
 */
function checkBaseFields(record: Record<string, unknown>): void {
  requiredString(record.eventId, 'eventId');
  requiredString(record.aggregateId, 'aggregateId');
  requiredString(record.aggregateType, 'aggregateType');
  requiredString(record.correlationId, 'correlationId');
  requiredString(record.occurredAt, 'occurredAt');
  const tenantId = record.tenantId;
  if (tenantId === null) record.tenantId = undefined;
  else optionalString(tenantId, 'tenantId');
  const causationId = record.causationId;
  if (causationId === null) record.causationId = undefined;
  else optionalString(causationId, 'causationId');
  // A non-empty string by now (requiredString); parseIsoTime is new Date(text) without its cost.
  const occurredAt = new Date(parseIsoTime(record.occurredAt as string));
  if (Number.isNaN(occurredAt.getTime())) {
    throw new EnvelopeDecodeError('invalid_field', `"occurredAt" is not an ISO-8601 date: ${String(record.occurredAt)}.`);
  }
  // Parsed once here; the constructor copies a Date without parsing again.
  record.occurredAt = occurredAt;
  const version = record.aggregateVersion;
  if (version === undefined || version === null) {
    throw new EnvelopeDecodeError('missing_field', 'Message body has no "aggregateVersion".');
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    throw new EnvelopeDecodeError('invalid_field', `"aggregateVersion" must be a non-negative integer; received ${describeValue(version)}.`);
  }
  const eventVersion = record.eventVersion;
  if (eventVersion !== undefined && (typeof eventVersion !== 'number' || !Number.isInteger(eventVersion) || eventVersion < 1)) {
    throw new EnvelopeDecodeError('invalid_field', `"eventVersion" must be an integer >= 1; received ${describeValue(eventVersion)}.`);
  }
  const metadata = record.metadata;
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new EnvelopeDecodeError('invalid_field', `"metadata" must be an object; received ${describeValue(metadata)}.`);
  }
}

function requiredString(value: unknown, field: string): void {
  if (value === undefined || value === null) {
    throw new EnvelopeDecodeError('missing_field', `Message body has no "${field}".`);
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new EnvelopeDecodeError('invalid_field', `"${field}" must be a non-empty string; received ${describeValue(value)}.`);
  }
}

function optionalString(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'string') {
    throw new EnvelopeDecodeError('invalid_field', `"${field}" must be a string when present; received ${describeValue(value)}.`);
  }
}

function tooLarge(bytes: number, max: number): EnvelopeDecodeError {
  return new EnvelopeDecodeError(
    'too_large',
    `Message body is ${bytes} bytes, over the limit of ${max}. Raise maxBodyBytes on consumers if such events are legitimate.`,
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}
