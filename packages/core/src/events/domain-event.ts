import { randomUUID } from 'node:crypto';
import { InvalidEventError } from '../errors.js';
import { toIsoString } from './iso-date.js';
import { formatIssues, type StandardSchemaV1 } from './standard-schema.js';
import { defaultRegistry, type EventRegistry } from './registry.js';

/** The fields every event carries, whatever its payload. */
export interface EventEnvelopeFields {
  readonly eventId: string;
  readonly eventType: string;
  readonly eventVersion: number;
  readonly occurredAt: Date;
  readonly aggregateId: string;
  readonly aggregateType: string;
  readonly aggregateVersion: number;
  readonly tenantId?: string | undefined;
  readonly correlationId: string;
  readonly causationId?: string | undefined;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** What you pass to an event constructor besides the payload. Only `aggregateId` is required. */
export interface BaseEventInit {
  aggregateId: string;
  aggregateVersion?: number;
  aggregateType?: string;
  eventId?: string;
  occurredAt?: Date | string;
  tenantId?: string | undefined;
  correlationId?: string;
  causationId?: string | undefined;
  metadata?: Record<string, unknown>;
}

export const BASE_FIELDS = [
  'eventId',
  'eventType',
  'eventVersion',
  'occurredAt',
  'aggregateId',
  'aggregateType',
  'aggregateVersion',
  'tenantId',
  'correlationId',
  'causationId',
  'metadata',
] as const;
const BASE_FIELD_SET: ReadonlySet<string> = new Set(BASE_FIELDS);
const RESERVED_METHOD_NAMES = ['with', 'withCausation', 'withMetadata', 'toJSON', 'constructor', '__proto__'] as const;
const RESERVED_METHODS: ReadonlySet<string> = new Set(RESERVED_METHOD_NAMES);

/** Names a payload field cannot have: the base fields, DomainEvent's methods and `__proto__`. */
export type ReservedFieldName = (typeof BASE_FIELDS)[number] | (typeof RESERVED_METHOD_NAMES)[number];
const EMPTY_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

function reservedField(eventType: string, key: string): InvalidEventError {
  return new InvalidEventError(
    `${eventType} has a payload field named "${key}", a name DomainEvent reserves (for its methods or the prototype). Rename the field.`,
  );
}

function baseFieldClash(eventType: string, key: string, where: string): InvalidEventError {
  return new InvalidEventError(
    `${eventType} ${where} a payload field named "${key}", which is a base field of every event (${BASE_FIELDS.join(', ')}). ` +
      'A payload field cannot replace an envelope field; rename the payload field.',
  );
}

function invalidBaseField(eventType: string, field: string, expected: string, value: unknown): InvalidEventError {
  return new InvalidEventError(
    `${eventType}.${field} must be ${expected}; received ${describeValue(value)}. ` +
      `"${field}" is a base field of every event, so a payload field cannot use that name either.`,
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Takes the value, not the field name: a read by variable key is a generic lookup, and this runs per decoded event. */
function optionalString(eventType: string, field: string, value: unknown, nonEmpty: boolean): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || (nonEmpty && value.length === 0)) {
    throw invalidBaseField(eventType, field, nonEmpty ? 'a non-empty string' : 'a string', value);
  }
  return value;
}

function isEmptyObject(value: object | undefined): boolean {
  if (value === undefined) return true;
  for (const _ in value) return false;
  return true;
}

/** Constructor argument of an event class: the base fields plus the payload fields. */
export type EventInit<P extends object> = BaseEventInit & P;

/** An instance of an event class declared with `defineEvent`. */
export type Event<T extends string = string, P extends object = object> = DomainEvent & {
  readonly eventType: T;
} & { readonly [K in keyof P]: P[K] };

interface EventDefinition {
  readonly eventType: string;
  readonly eventVersion: number;
  readonly aggregateType: string | undefined;
  readonly payloadSchema: StandardSchemaV1 | undefined;
}

const definitions = new WeakMap<object, EventDefinition>();

// Set only while constructEvent() runs (synchronously), for payloads the decoder already validated.
let payloadAlreadyValidated = false;

/**
 * Base class of every event. Declare event types with {@link defineEvent}; instances are frozen,
 * so "changing" an event means making a copy with `with*()`.
 */
export abstract class DomainEvent implements EventEnvelopeFields {
  declare readonly eventId: string;
  declare readonly eventType: string;
  declare readonly eventVersion: number;
  declare readonly occurredAt: Date;
  declare readonly aggregateId: string;
  declare readonly aggregateType: string;
  declare readonly aggregateVersion: number;
  declare readonly tenantId?: string | undefined;
  declare readonly correlationId: string;
  declare readonly causationId?: string | undefined;
  declare readonly metadata: Readonly<Record<string, unknown>>;

  protected constructor(init: BaseEventInit & Record<string, unknown>) {
    const definition = definitions.get(new.target) ?? findDefinition(new.target);
    if (init === null || typeof init !== 'object') {
      throw new InvalidEventError(`${definition.eventType} expects an object of fields; received ${String(init)}.`);
    }
    // Without a schema to run, payload fields go straight onto the event. Plain assignment is
    // safe: `__proto__` and the method names are refused first.
    const target = this as unknown as Record<string, unknown>;
    const schema = payloadAlreadyValidated ? undefined : definition.payloadSchema;
    let payload: Record<string, unknown> | undefined;
    for (const key of Object.keys(init)) {
      if (BASE_FIELD_SET.has(key)) continue;
      if (RESERVED_METHODS.has(key)) throw reservedField(definition.eventType, key);
      if (schema) (payload ??= {})[key] = init[key];
      else target[key] = cloneFrozen(init[key]);
    }
    if (schema) {
      const validated = validatePayloadSync(definition, schema, payload ?? {});
      for (const key of Object.keys(validated)) {
        if (BASE_FIELD_SET.has(key)) throw baseFieldClash(definition.eventType, key, 'payload schema produced');
        if (RESERVED_METHODS.has(key)) throw reservedField(definition.eventType, key);
        target[key] = cloneFrozen(validated[key]);
      }
    }

    const aggregateType = init.aggregateType ?? definition.aggregateType;
    if (typeof init.aggregateId !== 'string' || init.aggregateId.length === 0) {
      throw new InvalidEventError(
        `${definition.eventType} needs a non-empty string aggregateId; received ${JSON.stringify(init.aggregateId)}.`,
      );
    }
    if (typeof aggregateType !== 'string' || aggregateType.length === 0) {
      throw new InvalidEventError(
        `${definition.eventType} needs an aggregateType: set it in defineEvent('${definition.eventType}', { aggregateType }) or pass it to the constructor.`,
      );
    }
    const aggregateVersion = init.aggregateVersion ?? 1;
    if (!Number.isInteger(aggregateVersion) || aggregateVersion < 0) {
      throw new InvalidEventError(`${definition.eventType}.aggregateVersion must be a non-negative integer; received ${String(aggregateVersion)}.`);
    }
    // A Date from the decoder is already a private copy; one from a caller is copied.
    const occurredAt =
      payloadAlreadyValidated && init.occurredAt instanceof Date ? init.occurredAt : toDate(init.occurredAt, definition.eventType);
    // Base-field names in `init` always mean the base field, so a plain-JavaScript caller who means
    // a payload field (`eventId: 5`) gets an error instead of a silently replaced envelope.
    const record = init as Record<string, unknown>;
    if (init.eventType !== undefined && init.eventType !== definition.eventType) {
      throw invalidBaseField(definition.eventType, 'eventType', `"${definition.eventType}" (set by the class) or left out`, init.eventType);
    }
    // A decoded body may carry an older eventVersion (its producer ran an older definition); only a
    // caller's own value is held to the class's.
    if (!payloadAlreadyValidated && init.eventVersion !== undefined && init.eventVersion !== definition.eventVersion) {
      throw invalidBaseField(definition.eventType, 'eventVersion', `${definition.eventVersion} (set by the class) or left out`, init.eventVersion);
    }
    const eventId = optionalString(definition.eventType, 'eventId', record.eventId, true) ?? randomUUID();
    const correlationId = optionalString(definition.eventType, 'correlationId', record.correlationId, true) ?? eventId;
    const causationId = optionalString(definition.eventType, 'causationId', record.causationId, false);
    const tenantId = optionalString(definition.eventType, 'tenantId', record.tenantId, false);
    const metadata: unknown = init.metadata ?? undefined;
    if (metadata !== undefined && (typeof metadata !== 'object' || !isPlainObject(metadata as object))) {
      throw invalidBaseField(definition.eventType, 'metadata', 'a plain object of metadata entries', metadata);
    }

    const self = this as { -readonly [K in keyof EventEnvelopeFields]: EventEnvelopeFields[K] };
    self.eventId = eventId;
    self.eventType = definition.eventType;
    self.eventVersion = definition.eventVersion;
    self.occurredAt = occurredAt;
    self.aggregateId = init.aggregateId;
    self.aggregateType = aggregateType;
    self.aggregateVersion = aggregateVersion;
    if (tenantId !== undefined) self.tenantId = tenantId;
    self.correlationId = correlationId;
    if (causationId !== undefined) self.causationId = causationId;
    self.metadata = isEmptyObject(metadata as object | undefined) ? EMPTY_METADATA : (cloneFrozen(metadata) as Record<string, unknown>);
    Object.freeze(this);
  }

  /** A copy of this event with some fields changed. The copy keeps `eventId` unless you pass one. */
  with(changes: Partial<BaseEventInit> & Record<string, unknown>): this {
    const Ctor = this.constructor as new (init: Record<string, unknown>) => this;
    return new Ctor({ ...this.toInit(), ...changes });
  }

  /** A copy that records `cause` as its cause: same correlation, causationId = cause.eventId. */
  withCausation(cause: EventEnvelopeFields): this {
    return this.with({
      causationId: cause.eventId,
      correlationId: cause.correlationId,
      tenantId: this.tenantId ?? cause.tenantId,
    });
  }

  /** A copy with extra metadata merged over the existing metadata. */
  withMetadata(metadata: Record<string, unknown>): this {
    return this.with({ metadata: { ...this.metadata, ...metadata } });
  }

  /** The wire form: every field, dates as ISO-8601 UTC strings. */
  toJSON(): Record<string, unknown> {
    return { ...(this as object), occurredAt: toIsoString(this.occurredAt) };
  }

  private toInit(): Record<string, unknown> {
    return { ...(this as object) };
  }
}

export type PayloadSpec = StandardSchemaV1 | PayloadFields<object>;

/** A payload declared by type only (no runtime validation). Create with {@link fields}. */
export interface PayloadFields<P extends object> {
  readonly kind: 'fields';
  /** Phantom: carries the payload type, never set. */
  readonly type?: P;
}

/** Declares a payload by type alone: `payload: fields<{ customerId: string }>()`. */
export function fields<P extends object>(): PayloadFields<P> {
  return { kind: 'fields' };
}

export type PayloadOf<S> =
  S extends PayloadFields<infer P>
    ? P
    : S extends StandardSchemaV1
      ? StandardSchemaV1.InferOutput<S> extends object
        ? StandardSchemaV1.InferOutput<S>
        : never
      : never;

/** The payload fields of `S` that use a {@link ReservedFieldName}; `never` when there are none. */
export type ClashingPayloadField<S> = Extract<keyof PayloadOf<S>, ReservedFieldName>;

/**
 * Makes `payload` unassignable when it declares a reserved field, so the compiler reports the
 * clash at `defineEvent` and names the field.
 */
export type PayloadFieldCheck<S> = [ClashingPayloadField<S>] extends [never]
  ? unknown
  : { payload: { readonly 'payload field name is reserved by every event (a base field or method); rename it': ClashingPayloadField<S> } };

export interface DefineEventOptions<S extends PayloadSpec> {
  /** The aggregate this event belongs to; instances may still override it. */
  aggregateType?: string;
  /** Schema version of this event type (for upcasting). Default 1. */
  eventVersion?: number;
  /** `fields<T>()` for a typed payload, or any Standard Schema (zod, valibot, …) to also validate it. */
  payload?: S;
  /** Registry to register in; default the process-wide `defaultRegistry`. */
  registry?: EventRegistry;
}

/** An event class produced by {@link defineEvent}. */
export interface EventClass<T extends string = string, P extends object = object> {
  new (init: EventInit<P>): Event<T, P>;
  readonly eventType: T;
  readonly aggregateType: string | undefined;
  readonly eventVersion: number;
  readonly payloadSchema: StandardSchemaV1 | undefined;
  readonly prototype: Event<T, P>;
}

/** Any event class, whatever its payload. Used where a class is accepted but not constructed. */
export interface AnyEventClass<E extends DomainEvent = DomainEvent> {
  new (init: never): E;
  readonly eventType: string;
  readonly aggregateType: string | undefined;
  readonly eventVersion: number;
  readonly payloadSchema: StandardSchemaV1 | undefined;
}

/** The instance type of an event class: `type OrderCreated = EventOf<typeof OrderCreated>`. */
export type EventOf<C extends AnyEventClass> = InstanceType<C>;

/**
 * Declares an event type and registers it.
 *
 * ```ts
 * export const OrderCreated = defineEvent('OrderCreated', {
 *   aggregateType: 'Order',
 *   payload: fields<{ customerId: string }>(),
 * });
 * export type OrderCreated = EventOf<typeof OrderCreated>;
 * ```
 */
export function defineEvent<const T extends string, S extends PayloadSpec = PayloadFields<Record<never, never>>>(
  eventType: T,
  checkedOptions?: DefineEventOptions<S> & PayloadFieldCheck<S>,
): EventClass<T, PayloadOf<S>> {
  const options: DefineEventOptions<S> = checkedOptions ?? {};
  if (typeof eventType !== 'string' || eventType.trim().length === 0) {
    throw new InvalidEventError('defineEvent needs a non-empty event type name, e.g. defineEvent("OrderCreated", …).');
  }
  const eventVersion = options.eventVersion ?? 1;
  if (!Number.isInteger(eventVersion) || eventVersion < 1) {
    throw new InvalidEventError(`defineEvent("${eventType}"): eventVersion must be an integer >= 1.`);
  }
  const spec = options.payload;
  const payloadSchema = spec !== undefined && '~standard' in spec ? (spec as StandardSchemaV1) : undefined;
  for (const key of declaredSchemaKeys(payloadSchema)) {
    if (BASE_FIELD_SET.has(key)) throw baseFieldClash(eventType, key, 'declares');
    if (RESERVED_METHODS.has(key)) throw reservedField(eventType, key);
  }
  const definition: EventDefinition = {
    eventType,
    eventVersion,
    aggregateType: options.aggregateType,
    payloadSchema,
  };

  const Class = class extends DomainEvent {
    static readonly eventType = eventType;
    static readonly aggregateType = options.aggregateType;
    static readonly eventVersion = eventVersion;
    static readonly payloadSchema = payloadSchema;
    // Public so the class type can be constructed; DomainEvent's constructor is protected.
    // eslint-disable-next-line @typescript-eslint/no-useless-constructor
    constructor(init: BaseEventInit & Record<string, unknown>) {
      super(init);
    }
  };
  Object.defineProperty(Class, 'name', { value: eventType });
  definitions.set(Class, definition);
  (options.registry ?? defaultRegistry).register(Class as unknown as AnyEventClass, definedAt());
  return Class as unknown as EventClass<T, PayloadOf<S>>;
}

/**
 * The keys an object schema declares, where the library exposes them (zod's `shape`, valibot's
 * `entries`), so a clash is reported when the event is defined rather than on its first use.
 * Standard Schema itself does not expose keys; other schemas are checked on construction.
 */
function declaredSchemaKeys(schema: StandardSchemaV1 | undefined): string[] {
  if (schema === undefined) return [];
  for (const property of ['shape', 'entries']) {
    const keys: unknown = (schema as unknown as Record<string, unknown>)[property];
    if (keys !== null && typeof keys === 'object' && !Array.isArray(keys)) return Object.keys(keys);
  }
  return [];
}

/** Subclasses of a defined class (`class X extends defineEvent(…) {}`) inherit its definition. */
function findDefinition(target: object): EventDefinition {
  let proto: object | null = Object.getPrototypeOf(target) as object | null;
  while (proto) {
    const found = definitions.get(proto);
    if (found) {
      definitions.set(target, found);
      return found;
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  throw new InvalidEventError('Event classes must be declared with defineEvent(); DomainEvent cannot be constructed directly.');
}

function validatePayloadSync(
  definition: EventDefinition,
  schema: StandardSchemaV1,
  payload: Record<string, unknown>,
): Record<string, unknown> {
  const result = schema['~standard'].validate(payload);
  // Async schemas are checked by the envelope decoder, which can await; a constructor cannot.
  if (result instanceof Promise) return payload;
  if (result.issues) {
    throw new InvalidEventError(`${definition.eventType} payload is invalid: ${formatIssues(result.issues)}.`);
  }
  const value = result.value;
  if (value === null || typeof value !== 'object') {
    throw new InvalidEventError(`${definition.eventType} payload schema must produce an object.`);
  }
  return value as Record<string, unknown>;
}

function toDate(value: Date | string | undefined, eventType: string): Date {
  if (value === undefined) return new Date();
  const date = value instanceof Date ? new Date(value.getTime()) : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidEventError(`${eventType}.occurredAt is not a valid date: ${String(value)}.`);
  }
  return date;
}

/**
 * Plain objects and arrays are copied then frozen, so an event never shares mutable state with the
 * caller's objects (freezing those in place would break the caller). Other objects are kept as is.
 */
function cloneFrozen(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) return Object.freeze(value.map(cloneFrozen));
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    Object.defineProperty(copy, key, {
      value: cloneFrozen((value as Record<string, unknown>)[key]),
      enumerable: true,
    });
  }
  return Object.freeze(copy);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Where defineEvent was called, for duplicate-name errors ("defined at src/orders.ts:12"). */
function definedAt(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  for (const line of stack.slice(1)) {
    if (line.includes('domain-event.') || line.includes('/core/dist/')) continue;
    const match = /\(?((?:file:\/\/)?[^()\s]+:\d+:\d+)\)?\s*$/.exec(line.trim());
    if (match?.[1]) return match[1].replace(/^file:\/\//, '');
  }
  return 'unknown location';
}

/** Narrows an unknown value to a DomainEvent instance. */
export function isDomainEvent(value: unknown): value is DomainEvent {
  return value instanceof DomainEvent;
}

/** The payload fields of an event (everything that is not a base field). */
export function payloadOf(event: DomainEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(event)) {
    if (!BASE_FIELD_SET.has(key)) out[key] = (event as unknown as Record<string, unknown>)[key];
  }
  return out;
}

/** Standalone form of {@link DomainEvent.withCausation}. */
export function withCausation<E extends DomainEvent>(event: E, cause: EventEnvelopeFields): E {
  return event.withCausation(cause);
}

/** Builds an event from a decoded record whose payload the codec already validated (or must not). */
export function constructEvent(cls: AnyEventClass, record: Record<string, unknown>): DomainEvent {
  const Ctor = cls as unknown as new (init: Record<string, unknown>) => DomainEvent;
  payloadAlreadyValidated = true;
  try {
    return new Ctor(record);
  } finally {
    payloadAlreadyValidated = false;
  }
}
