import { describe, expect, it } from 'vitest';
import { BackgroundTasks } from '../../src/transport.js';
import { deferred, nextTurn } from '@eventsource/testkit';

function tasks(limit: number, errors: unknown[] = []): BackgroundTasks {
  return new BackgroundTasks(limit, (error) => errors.push(error));
}

describe('BackgroundTasks', () => {
  it('hands a task off and returns before it starts', async () => {
    const background = tasks(10);
    let started = false;
    await background.launch(async () => {
      started = true;
    });
    expect(started).toBe(false);
    expect(background.inFlight).toBe(1);
    expect(background.created).toBe(1);
    expect(await background.drain(1000)).toBe(true);
    expect(started).toBe(true);
    expect(background.completed).toBe(1);
    expect(background.inFlight).toBe(0);
  });

  it('runs the task inline at the cap, so nothing is dropped', async () => {
    const background = tasks(1);
    const gate = deferred();
    const done: string[] = [];
    await background.launch(async () => {
      await gate.promise;
      done.push('detached');
    });
    let inlineReturned = false;
    const inline = background
      .launch(async () => {
        done.push('inline');
      })
      .then(() => {
        inlineReturned = true;
      });
    await inline;
    expect(inlineReturned).toBe(true);
    expect(done).toEqual(['inline']);
    expect(background.created).toBe(1);
    gate.resolve();
    expect(await background.drain(1000)).toBe(true);
    expect(done).toEqual(['inline', 'detached']);
    expect(background.completed).toBe(1);
  });

  it('always runs inline with a limit of 0', async () => {
    const background = tasks(0);
    let ran = false;
    await background.launch(async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    expect(background.created).toBe(0);
  });

  it('propagates an inline task failure to the caller', async () => {
    await expect(tasks(0).launch(async () => Promise.reject(new Error('inline failure')))).rejects.toThrow('inline failure');
  });

  it('reports a detached task failure to onError and still counts it completed', async () => {
    const errors: unknown[] = [];
    const background = tasks(5, errors);
    const failure = new Error('detached failure');
    await background.launch(async () => Promise.reject(failure));
    expect(await background.drain(1000)).toBe(true);
    expect(errors).toEqual([failure]);
    expect(background.completed).toBe(1);
  });

  it('drains at once when idle', async () => {
    expect(await tasks(1).drain(0)).toBe(true);
  });

  it('waits for tasks started while it drains', async () => {
    const background = tasks(10);
    const order: string[] = [];
    await background.launch(async () => {
      await nextTurn();
      order.push('first');
      await background.launch(async () => {
        await nextTurn();
        order.push('second');
      });
    });
    expect(await background.drain(5000)).toBe(true);
    expect(order).toEqual(['first', 'second']);
    expect(background.created).toBe(2);
    expect(background.completed).toBe(2);
  });

  it('gives up at the timeout while a task never finishes', async () => {
    const background = tasks(10);
    await background.launch(() => new Promise<void>(() => {}));
    expect(await background.drain(20)).toBe(false);
    expect(await background.drain(0)).toBe(false);
    expect(background.inFlight).toBe(1);
  });
});
