import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

// An application installing @eventsource/otel keeps its own single copy of the API and brings its
// own SDK: two copies of @opentelemetry/api would each keep their own global providers.
describe('what installing @eventsource/otel brings', () => {
  it('depends on core only; the OpenTelemetry API is a peer; no SDK package outside devDependencies', () => {
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['@eventsource/core']);
    expect(manifest.peerDependencies).toEqual({ '@opentelemetry/api': '^1.9.0' });
    const runtime = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];
    expect(runtime.filter((name) => name.startsWith('@opentelemetry/') && name !== '@opentelemetry/api')).toEqual([]);
  });
});
