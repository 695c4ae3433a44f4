import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  BrokerUnavailableError,
  brokerImage,
  containerRuntime,
  detectContainerRuntime,
  kafkaEnvironment,
  formatSkipSummary,
  getBroker,
  isCi,
  planBroker,
  recordedSkips,
  requireBroker,
  type BrokerOptions,
  type ContainerRuntime,
} from '../src/index.js';
import { probeBrokers } from '../src/global-setup.js';
import { maskUrl, parseAmqpUrl, parseKafkaBrokers, parseRedisUrl, probeTcp } from '../src/probe.js';

const CLOSED = '127.0.0.1:1';
const noRuntime = async (): Promise<ContainerRuntime> => ({ available: false, detail: 'no container runtime' });
const opts = (env: Record<string, string | undefined>): BrokerOptions => ({ env, detectRuntime: noRuntime });

describe('URL parsing', () => {
  it('parses redis URLs with defaults', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(parseRedisUrl('redis://cache.internal')).toEqual({ host: 'cache.internal', port: 6379 });
    expect(parseRedisUrl('rediss://:pw@[::1]:7000/2')).toEqual({ host: '::1', port: 7000 });
  });

  it('rejects malformed redis URLs', () => {
    expect(() => parseRedisUrl('127.0.0.1:6379')).toThrow(TypeError);
    expect(() => parseRedisUrl('http://127.0.0.1:6379')).toThrow(/redis:\/\//);
    expect(() => parseRedisUrl('redis://h:99999')).toThrow(TypeError);
  });

  it('parses amqp URLs: credentials, port, vhost', () => {
    expect(parseAmqpUrl('amqp://guest:guest@127.0.0.1:5672')).toEqual({
      host: '127.0.0.1',
      port: 5672,
      username: 'guest',
      password: 'guest',
      vhost: '/',
      tls: false,
    });
    expect(parseAmqpUrl('amqp://u:p%40ss@rabbit/%2Fprod')).toMatchObject({
      port: 5672,
      password: 'p@ss',
      vhost: '/prod',
    });
    expect(parseAmqpUrl('amqps://h/events')).toMatchObject({ port: 5671, vhost: 'events', tls: true });
    expect(parseAmqpUrl('amqp://h')).not.toHaveProperty('username');
  });

  it('parses KAFKA_BROKERS lists', () => {
    expect(parseKafkaBrokers('127.0.0.1:9092')).toEqual([{ host: '127.0.0.1', port: 9092 }]);
    expect(parseKafkaBrokers(' a:1 , b , [::1]:9094,')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 9092 },
      { host: '::1', port: 9094 },
    ]);
    expect(() => parseKafkaBrokers('')).toThrow(/empty/);
    expect(() => parseKafkaBrokers('kafka://a:1')).toThrow(/without a scheme/);
    expect(() => parseKafkaBrokers('a:b')).toThrow(TypeError);
  });
});

describe('maskUrl', () => {
  it('masks passwords and keeps everything else', () => {
    expect(maskUrl('amqp://guest:guest@127.0.0.1:5672')).toBe('amqp://guest:***@127.0.0.1:5672');
    expect(maskUrl('amqp://u:s3cret@h:5672/vh')).toBe('amqp://u:***@h:5672/vh');
    expect(maskUrl('redis://:s3cret@h:6379/0')).toBe('redis://:***@h:6379/0');
    expect(maskUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(maskUrl('127.0.0.1:9092,127.0.0.1:9093')).toBe('127.0.0.1:9092,127.0.0.1:9093');
  });

  it('masks even strings that are not valid URLs', () => {
    expect(maskUrl('amqp://u:s3cret@h:notaport')).not.toContain('s3cret');
  });
});

describe('resolution from env', () => {
  it('isCi accepts true and 1 only', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({ CI: 'false' })).toBe(false);
    expect(isCi({})).toBe(false);
  });

  it('uses the env var when its broker answers', async () => {
    const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    const broker = await getBroker('redis', opts({ REDIS_URL: url }));
    expect(broker).toMatchObject({ kind: 'redis', url, source: 'env' });
    await broker?.stop(); // no-op for env brokers
  });

  it('returns undefined (not CI) when unset and no container runtime', async () => {
    expect(await getBroker('kafka', opts({}))).toBeUndefined();
    expect(await planBroker('kafka', opts({}))).toEqual({
      kind: 'kafka',
      status: 'missing',
      reason: 'KAFKA_BROKERS unset, no container runtime',
    });
  });

  it('treats a set env var whose port is closed as missing, naming the var and masking the password', async () => {
    const plan = await planBroker('rabbitmq', opts({ AMQP_URL: `amqp://guest:hunter2@${CLOSED}` }));
    expect(plan.status).toBe('missing');
    const reason = plan.status === 'missing' ? plan.reason : '';
    expect(reason).toContain('AMQP_URL=amqp://guest:***@127.0.0.1:1');
    expect(reason).toContain('nothing answers at 127.0.0.1:1');
    expect(reason).not.toContain('hunter2');
  });

  it('reports a malformed env var as missing with the parse error', async () => {
    const plan = await planBroker('redis', opts({ REDIS_URL: 'localhost:6379' }));
    expect(plan).toMatchObject({ status: 'missing', reason: expect.stringContaining('REDIS_URL is malformed') });
  });

  it('under CI=true throws BrokerUnavailableError when unset', async () => {
    const err = await getBroker('redis', opts({ CI: 'true' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerUnavailableError);
    expect((err as BrokerUnavailableError).envVar).toBe('REDIS_URL');
    expect((err as Error).message).toMatch(/Set REDIS_URL .*tooling\/scripts\/ensure-brokers\.sh/);
  });

  it('under CI=true throws when the env var points at a closed port, without leaking the password', async () => {
    const env = { CI: '1', AMQP_URL: `amqp://guest:hunter2@${CLOSED}` };
    await expect(requireBroker('rabbitmq', opts(env))).rejects.toThrow(BrokerUnavailableError);
    const err = await getBroker('rabbitmq', opts(env)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('AMQP_URL');
    expect(err?.message).not.toContain('hunter2');
    await expect(getBroker('kafka', opts({ CI: 'true', KAFKA_BROKERS: CLOSED }))).rejects.toThrow(/KAFKA_BROKERS/);
  });

  it('requireBroker records the skip when not CI', async () => {
    expect(await requireBroker('kafka', opts({ KAFKA_BROKERS: CLOSED }))).toBeUndefined();
    expect(recordedSkips().get('kafka')).toMatch(/^KAFKA_BROKERS=127\.0\.0\.1:1 is set but nothing answers/);
  });
});

describe('skip summary', () => {
  it('formats one loud line', () => {
    expect(formatSkipSummary([['redis', 'REDIS_URL unset, no container runtime']])).toBe(
      '⚠ SKIPPED integration tests: redis (REDIS_URL unset, no container runtime) — set REDIS_URL or run tooling/scripts/ensure-brokers.sh',
    );
    expect(
      formatSkipSummary([
        ['redis', 'a'],
        ['kafka', 'b'],
      ]),
    ).toBe('⚠ SKIPPED integration tests: redis (a), kafka (b) — set REDIS_URL, KAFKA_BROKERS or run tooling/scripts/ensure-brokers.sh');
    expect(formatSkipSummary([])).toBe('');
  });

  it('global-setup probing lists only what is missing', async () => {
    const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    const { plans, summary } = await probeBrokers(['redis', 'kafka'], opts({ REDIS_URL: url }));
    expect(plans.map((p) => p.status)).toEqual(['env', 'missing']);
    expect(summary).toContain('kafka (KAFKA_BROKERS unset, no container runtime)');
    expect(summary).not.toContain('redis (');
  });
});

describe('probes', () => {
  it('probeTcp: a closed port is false', async () => {
    expect(await probeTcp('127.0.0.1', 1, 1000)).toBe(false);
  });

  it('probeTcp + PING against the running Redis', async () => {
    const { host, port } = parseRedisUrl(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
    expect(await probeTcp(host, port, 1000)).toBe(true);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({ host, port }, () => s.write('PING\r\n'));
      s.setTimeout(2000, () => s.destroy(new Error('redis PING timed out')));
      s.once('data', (d) => {
        resolve(d.toString());
        s.end();
      });
      s.once('error', reject);
    });
    expect(reply).toBe('+PONG\r\n');
  });

  it('container-runtime detection is cached per DOCKER_HOST', async () => {
    const rt = await containerRuntime(process.env);
    expect(typeof rt.available).toBe('boolean');
    expect(containerRuntime(process.env)).toBe(containerRuntime(process.env));
  });

  it('a DOCKER_HOST that nothing answers is no runtime, and says which', async () => {
    expect(await detectContainerRuntime({ DOCKER_HOST: `tcp://${CLOSED}` }, 1000)).toEqual({
      available: false,
      detail: `DOCKER_HOST=tcp://${CLOSED} does not answer`,
    });
    expect(await detectContainerRuntime({ TESTCONTAINERS_DISABLED: '1' })).toEqual({
      available: false,
      detail: 'TESTCONTAINERS_DISABLED is set',
    });
  });
});

describe('container images', () => {
  it('defaults to the official images', () => {
    expect(brokerImage('redis', {})).toBe('redis:7');
    expect(brokerImage('rabbitmq', {})).toBe('rabbitmq:3-management');
    expect(brokerImage('kafka', {})).toBe('apache/kafka:4.4.0');
  });

  it('takes each override from its own variable, ignoring blanks', () => {
    const env = { EVENTSOURCE_REDIS_IMAGE: 'eventsource-local/redis:7', EVENTSOURCE_KAFKA_IMAGE: '  ' };
    expect(brokerImage('redis', env)).toBe('eventsource-local/redis:7');
    expect(brokerImage('rabbitmq', env)).toBe('rabbitmq:3-management');
    expect(brokerImage('kafka', env)).toBe('apache/kafka:4.4.0');
  });

  it('Kafka advertises the host port it is published on, on loopback', () => {
    const env = kafkaEnvironment(41234);
    expect(env['KAFKA_LISTENERS']).toBe('PLAINTEXT://0.0.0.0:41234,CONTROLLER://127.0.0.1:9093');
    expect(env['KAFKA_ADVERTISED_LISTENERS']).toBe('PLAINTEXT://127.0.0.1:41234');
    expect(env['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR']).toBe('1');
  });

  it('a broker the global setup started in a container is reported as one', async () => {
    const env = { REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', EVENTSOURCE_REDIS_CONTAINER: 'abc123' };
    const broker = await getBroker('redis', opts(env));
    expect(broker).toMatchObject({ source: 'container', containerId: 'abc123', url: env.REDIS_URL });
  });
});
