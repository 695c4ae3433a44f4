import { describe, expect, it } from 'vitest';
import { HEADER, type DeadLetterInfo } from '../../src/index.js';
import {
  deadLetterHeaders,
  readDeadLetterInfo,
  readFailureHistory,
  retryHeaders,
  stripFailureHeaders,
} from '../../src/transport.js';

const T1 = new Date('2024-01-01T00:00:00.000Z');
const T2 = new Date('2024-01-01T00:00:05.000Z');

const info: DeadLetterInfo = {
  reason: 'max_retries_exceeded',
  errorType: 'TypeError',
  errorMessage: 'boom',
  attempts: 4,
  firstFailureAt: T1.toISOString(),
  lastFailureAt: T2.toISOString(),
  originalDestination: 'orders:stream',
  originalId: '1-0',
  consumerGroup: 'billing',
  deadLetteredAt: T2.toISOString(),
};

describe('readFailureHistory', () => {
  it('reads a fresh message as attempt 0', () => {
    expect(readFailureHistory(undefined)).toEqual({ attempt: 0, firstFailureAt: undefined, lastFailureAt: undefined });
    expect(readFailureHistory({})).toEqual({ attempt: 0, firstFailureAt: undefined, lastFailureAt: undefined });
  });

  it('reads the bookkeeping a retry copy carries', () => {
    expect(
      readFailureHistory({
        [HEADER.attempt]: '2',
        [HEADER.firstFailureAt]: T1.toISOString(),
        [HEADER.lastFailureAt]: T2.toISOString(),
      }),
    ).toEqual({ attempt: 2, firstFailureAt: T1.toISOString(), lastFailureAt: T2.toISOString() });
  });

  it.each([['abc'], ['-3'], ['0'], ['']])('treats a nonsensical attempt header %j as 0', (value) => {
    expect(readFailureHistory({ [HEADER.attempt]: value }).attempt).toBe(0);
  });
});

describe('retryHeaders', () => {
  it('starts the history on the first failure', () => {
    const headers = retryHeaders(readFailureHistory(undefined), new Error('first'), T1);
    expect(headers).toEqual({
      [HEADER.attempt]: '1',
      [HEADER.firstFailureAt]: T1.toISOString(),
      [HEADER.lastFailureAt]: T1.toISOString(),
      [HEADER.lastError]: 'first',
    });
  });

  it('keeps the first failure time and counts on', () => {
    const previous = readFailureHistory(retryHeaders(readFailureHistory(undefined), new Error('first'), T1));
    const headers = retryHeaders(previous, 'second as a string', T2);
    expect(headers[HEADER.attempt]).toBe('2');
    expect(headers[HEADER.firstFailureAt]).toBe(T1.toISOString());
    expect(headers[HEADER.lastFailureAt]).toBe(T2.toISOString());
    expect(headers[HEADER.lastError]).toBe('second as a string');
  });

  it('truncates long error messages', () => {
    const headers = retryHeaders(readFailureHistory(undefined), new Error('x'.repeat(5000)), T1);
    expect(headers[HEADER.lastError]).toBe(`${'x'.repeat(2000)}…`);
  });
});

describe('dead-letter headers', () => {
  it('write and read back every field', () => {
    const headers = deadLetterHeaders(info);
    expect(headers).toEqual({
      [HEADER.dlqReason]: 'max_retries_exceeded',
      [HEADER.dlqErrorType]: 'TypeError',
      [HEADER.dlqErrorMessage]: 'boom',
      [HEADER.dlqAttempts]: '4',
      [HEADER.firstFailureAt]: T1.toISOString(),
      [HEADER.lastFailureAt]: T2.toISOString(),
      [HEADER.dlqOriginalDestination]: 'orders:stream',
      [HEADER.dlqOriginalId]: '1-0',
      [HEADER.dlqConsumerGroup]: 'billing',
      [HEADER.dlqDeadLetteredAt]: T2.toISOString(),
    });
    expect(readDeadLetterInfo(headers)).toEqual(info);
  });

  it('truncate the error message', () => {
    const headers = deadLetterHeaders({ ...info, errorMessage: 'y'.repeat(2500) });
    expect(headers[HEADER.dlqErrorMessage]).toHaveLength(2001);
  });

  it('read as undefined when the message is not a dead letter', () => {
    expect(readDeadLetterInfo({ [HEADER.eventType]: 'X' })).toBeUndefined();
  });

  it('read with defaults when only the reason is present', () => {
    expect(readDeadLetterInfo({ [HEADER.dlqReason]: 'malformed_json', [HEADER.dlqAttempts]: 'zz' })).toEqual({
      reason: 'malformed_json',
      errorType: 'Error',
      errorMessage: '',
      attempts: 0,
      firstFailureAt: '',
      lastFailureAt: '',
      originalDestination: '',
      originalId: '',
      consumerGroup: '',
      deadLetteredAt: '',
    });
  });
});

describe('stripFailureHeaders', () => {
  it('gives back the original envelope headers for a replay', () => {
    const envelope = {
      [HEADER.eventType]: 'X',
      [HEADER.eventId]: 'e',
      [HEADER.traceparent]: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-custom': 'kept',
    };
    const failed = {
      ...envelope,
      ...retryHeaders(readFailureHistory(undefined), new Error('e'), T1),
      ...deadLetterHeaders(info),
      'x-absent': undefined,
    };
    expect(stripFailureHeaders(failed)).toEqual(envelope);
  });
});
