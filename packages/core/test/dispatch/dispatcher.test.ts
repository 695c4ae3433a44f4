import { describe, expect, it } from 'vitest';
import { HandlerDispatchError, defineEvent, noopTracer, type DomainEvent } from '../../src/index.js';
import { dispatch, normalizeHandler } from '../../src/transport.js';
import { deferred, nextTurn } from '@eventsource/testkit';

const Charged = defineEvent('DispatcherTest.Charged', { aggregateType: 'Card' });
const charged = () => new Charged({ aggregateId: 'card-1', eventId: 'evt-1' });
const context = { tracer: noopTracer };

class ValidationError extends Error {
  override name = 'ValidationError';
}

describe('dispatch', () => {
  it('is ok with nothing invoked when there are no handlers', async () => {
    await expect(dispatch(charged(), [], context)).resolves.toEqual({ ok: true, invoked: 0 });
  });

  it('passes the event to every handler and reports how many ran', async () => {
    const seen: string[] = [];
    const event = charged();
    const outcome = await dispatch(
      event,
      [
        normalizeHandler((e: DomainEvent) => seen.push(`sync:${e.eventId}`)),
        normalizeHandler(async (e: DomainEvent) => {
          await nextTurn();
          seen.push(`async:${e.eventId}`);
        }),
        normalizeHandler({ handle: (e: DomainEvent) => seen.push(`object:${e.eventId}`) }),
      ],
      context,
    );
    expect(outcome).toEqual({ ok: true, invoked: 3 });
    expect(seen.sort()).toEqual(['async:evt-1', 'object:evt-1', 'sync:evt-1']);
  });

  it('starts handlers in order, runs them concurrently and waits for all of them', async () => {
    const log: string[] = [];
    const gate = deferred();
    const slow = normalizeHandler(async () => {
      log.push('slow:start');
      await gate.promise;
      log.push('slow:end');
    });
    const fast = normalizeHandler(() => {
      log.push('fast');
    });
    let settled = false;
    const running = dispatch(charged(), [slow, fast], context).then((outcome) => {
      settled = true;
      return outcome;
    });
    await nextTurn();
    expect(log).toEqual(['slow:start', 'fast']);
    expect(settled).toBe(false);
    gate.resolve();
    await expect(running).resolves.toEqual({ ok: true, invoked: 2 });
    expect(log).toEqual(['slow:start', 'fast', 'slow:end']);
  });

  it('isolates failures: every handler runs, and every failure comes back in one error, in handler order', async () => {
    const ran: string[] = [];
    const lateRejection = deferred();
    const first = normalizeHandler(async () => {
      ran.push('first');
      await lateRejection.promise;
      throw new ValidationError('first failed late');
    }, 'first');
    const second = normalizeHandler(() => {
      ran.push('second');
      throw new TypeError('second threw synchronously');
    }, 'second');
    const third = normalizeHandler(() => {
      ran.push('third');
    }, 'third');
    const fourth = normalizeHandler(async () => {
      ran.push('fourth');
      throw 'fourth rejected with a string';
    }, 'fourth');

    const running = dispatch(charged(), [first, second, third, fourth], context);
    await nextTurn();
    lateRejection.resolve();
    const outcome = await running;

    expect(ran).toEqual(['first', 'second', 'third', 'fourth']);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.invoked).toBe(4);
    const error = outcome.error;
    expect(error).toBeInstanceOf(HandlerDispatchError);
    expect(error.code).toBe('ES_HANDLER_DISPATCH');
    expect(error.eventType).toBe('DispatcherTest.Charged');
    expect(error.eventId).toBe('evt-1');
    expect(error.failures.map((f) => f.handlerName)).toEqual(['first', 'second', 'fourth']);
    expect(error.failures[0]!.error).toBeInstanceOf(ValidationError);
    expect(error.failures[1]!.error).toBeInstanceOf(TypeError);
    expect(error.failures[2]!.error).toBe('fourth rejected with a string');
    expect(error.message).toBe(
      '3 handler(s) failed for DispatcherTest.Charged evt-1: first: first failed late; ' +
        'second: second threw synchronously; fourth: fourth rejected with a string',
    );
    expect(error.cause).toBe(error.failures[0]!.error);
    expect(error.errorType).toBe('ValidationError');
  });

  it('accepts thenables that are not promises', async () => {
    const thenable = normalizeHandler(() => ({
      then(_resolve: () => void, reject: (error: unknown) => void) {
        reject(new Error('thenable rejected'));
      },
    }), 'thenable');
    const outcome = await dispatch(charged(), [thenable], context);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.failures).toEqual([{ handlerName: 'thenable', error: new Error('thenable rejected') }]);
  });
});
