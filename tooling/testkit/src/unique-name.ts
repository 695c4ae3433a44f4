import { randomBytes } from 'node:crypto';

/**
 * `estest<sep><label><sep><8 hex digits>`: a broker resource name (stream prefix, exchange, topic
 * prefix) no other test run uses, under the `estest` namespace the test sweeps delete. Pick the
 * separator the broker's names allow: `:` for Redis keys, `.` for AMQP and Kafka.
 */
export function uniqueName(label: string, separator: ':' | '.' = '.'): string {
  return `estest${separator}${label}${separator}${randomBytes(4).toString('hex')}`;
}
