import { describe, expect, it } from 'vitest';
import { redact } from '../../src/transport.js';

describe('redact', () => {
  it.each([
    ['redis://app:hunter2@cache:6379/0', 'redis://app:***@cache:6379/0'],
    ['rediss://app:hunter2@cache.example.com:6380', 'rediss://app:***@cache.example.com:6380'],
    ['amqp://guest:guest@127.0.0.1:5672/%2F', 'amqp://guest:***@127.0.0.1:5672/%2F'],
    ['amqps://orders:pa55@mq.example.com/orders', 'amqps://orders:***@mq.example.com/orders'],
    ['kafka://svc:s3cret@broker-1:9092', 'kafka://svc:***@broker-1:9092'],
    ['http://admin:admin@localhost:15672/api/queues', 'http://admin:***@localhost:15672/api/queues'],
    ['redis://u:pw@[::1]:6379', 'redis://u:***@[::1]:6379'],
  ])('masks the password in %s', (text, expected) => {
    expect(redact(text)).toBe(expected);
  });

  it('masks a token given as the whole user part (no ":"), and an empty user name', () => {
    expect(redact('rediss://tok_3f9a8b@cache.upstash.io:6379')).toBe('rediss://***@cache.upstash.io:6379');
    expect(redact('redis://:onlypassword@cache:6379')).toBe('redis://***@cache:6379');
  });

  it('masks a password that itself contains "@"', () => {
    expect(redact('amqp://user:p@ss@w0rd@rabbit:5672/vhost')).toBe('amqp://user:***@rabbit:5672/vhost');
  });

  it('masks every URL in a message, inside quotes and brackets too', () => {
    expect(redact('tried redis://a:b@h1:6379, then ("amqp://c@h2")')).toBe('tried redis://a:***@h1:6379, then ("amqp://***@h2")');
  });

  it('masks SASL and password key/value pairs, whatever their prefix and quoting', () => {
    expect(redact('sasl.password=abc sasl.username=bob')).toBe('sasl.password=*** sasl.username=bob');
    expect(redact("sasl: { mechanism: 'plain', username: 'u', password: 'p' }")).toBe("sasl: { mechanism: 'plain', username: 'u', password: '***' }");
    expect(redact('sasl_password: xyz; token=abc&api_key=k apiKey: z secret=s passwd=q')).toBe('sasl_password: ***; token=***&api_key=*** apiKey: *** secret=*** passwd=***');
    expect(redact('{"password":"x","user":"y"}')).toBe('{"password":"***","user":"y"}');
    expect(redact('DB_PASSWORD=hunter2 KAFKA_SASL_PASSWORD=x')).toBe('DB_PASSWORD=*** KAFKA_SASL_PASSWORD=***');
  });

  it('leaves text without credentials unchanged', () => {
    for (const text of [
      'redis://localhost:6379',
      'amqp://rabbit:5672/vhost',
      'mail ops@example.com about https://registry.npmjs.org/@scope/pkg',
      'http://host/path@section?x=1#y',
      'passwords are rotated daily; the tokenizer=fast',
      'XREADGROUP failed: NOGROUP No such key',
      '',
    ]) {
      expect(redact(text)).toBe(text);
    }
  });
});
