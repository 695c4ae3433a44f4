import { describe, expect, it } from 'vitest';
import {
  DuplicateEventTypeError,
  EventRegistry,
  UnknownEventTypeError,
  defineEvent,
} from '../../src/index.js';

const LOCATION = /registry\.test\.ts:\d+:\d+/;

describe('EventRegistry', () => {
  it('resolves registered names and reports what it holds', () => {
    const registry = new EventRegistry();
    const Beta = defineEvent('RegistryTest.Beta', { registry });
    const Alpha = defineEvent('RegistryTest.Alpha', { registry });
    expect(registry.get('RegistryTest.Alpha')).toBe(Alpha);
    expect(registry.tryGet('RegistryTest.Beta')).toBe(Beta);
    expect(registry.tryGet('RegistryTest.Gamma')).toBeUndefined();
    expect(registry.has('RegistryTest.Alpha')).toBe(true);
    expect(registry.names()).toEqual(['RegistryTest.Alpha', 'RegistryTest.Beta']);
    expect(registry.size).toBe(2);
    expect(registry.unregister('RegistryTest.Alpha')).toBe(true);
    expect(registry.unregister('RegistryTest.Alpha')).toBe(false);
    expect(registry.names()).toEqual(['RegistryTest.Beta']);
  });

  it('names the type and lists the known names when asked for an unknown one', () => {
    const registry = new EventRegistry();
    defineEvent('RegistryTest.Zeta', { registry });
    defineEvent('RegistryTest.Eta', { registry });
    const error = (() => {
      try {
        registry.get('RegistryTest.Missing');
      } catch (caught) {
        return caught;
      }
      throw new Error('expected get() to throw');
    })();
    expect(error).toBeInstanceOf(UnknownEventTypeError);
    const unknown = error as UnknownEventTypeError;
    expect(unknown.code).toBe('ES_UNKNOWN_EVENT_TYPE');
    expect(unknown.eventType).toBe('RegistryTest.Missing');
    expect(unknown.knownTypes).toEqual(['RegistryTest.Eta', 'RegistryTest.Zeta']);
    expect(unknown.message).toContain('Unknown event type "RegistryTest.Missing"');
    expect(unknown.message).toContain('Known types: RegistryTest.Eta, RegistryTest.Zeta.');
  });

  it('says "none" when nothing is registered', () => {
    expect(() => new EventRegistry().get('Nope')).toThrow('Known types: none.');
  });

  it('refuses a second definition of a name from another place, naming both definitions', () => {
    const registry = new EventRegistry();
    defineEvent('RegistryTest.Dup', { registry });
    let error: unknown;
    try {
      defineEvent('RegistryTest.Dup', { registry });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DuplicateEventTypeError);
    const duplicate = error as DuplicateEventTypeError;
    expect(duplicate.code).toBe('ES_DUPLICATE_EVENT_TYPE');
    expect(duplicate.eventType).toBe('RegistryTest.Dup');
    expect(duplicate.existing).toMatch(LOCATION);
    expect(duplicate.incoming).toMatch(LOCATION);
    expect(duplicate.existing).not.toBe(duplicate.incoming);
    expect(duplicate.message).toContain(duplicate.existing);
    expect(duplicate.message).toContain(duplicate.incoming);
    expect(duplicate.message).toContain('Give one of them a different event type');
  });

  it('names both classes when two different classes claim one name', () => {
    const First = defineEvent('RegistryTest.Clash', { registry: new EventRegistry() });
    const Second = defineEvent('RegistryTest.Clash', { registry: new EventRegistry() });
    Object.defineProperty(First, 'name', { value: 'FirstClash' });
    Object.defineProperty(Second, 'name', { value: 'SecondClash' });
    const registry = new EventRegistry();
    registry.register(First, 'src/first.ts:1:1');
    expect(() => registry.register(Second, 'src/second.ts:2:2')).toThrow(
      'Event type "RegistryTest.Clash" is already registered by FirstClash (defined at src/first.ts:1:1); ' +
        'SecondClash (defined at src/second.ts:2:2) tried to register the same name.',
    );
    expect(registry.get('RegistryTest.Clash')).toBe(First);
  });

  it('lets the same class register again, and a redefinition from the same place replace it (module reload)', () => {
    const registry = new EventRegistry();
    const define = () => defineEvent('RegistryTest.Reloaded', { registry });
    const first = define();
    const second = define();
    expect(second).not.toBe(first);
    expect(registry.get('RegistryTest.Reloaded')).toBe(second);
    expect(() => registry.register(second, 'elsewhere')).not.toThrow();
    expect(registry.size).toBe(1);
  });

  it('registers with an unknown location by default', () => {
    const First = defineEvent('RegistryTest.NoLocation', { registry: new EventRegistry() });
    const Second = defineEvent('RegistryTest.NoLocation', { registry: new EventRegistry() });
    const registry = new EventRegistry();
    registry.register(First);
    expect(() => registry.register(Second, 'here')).toThrow(/defined at unknown location/);
  });
});
