import { describe, expect, it } from 'vitest';
import type { RefereeOutcome } from './referee';
import { RefereeTakeover, TAKEOVER_MAX_FAILURES } from './referee-takeover';

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('RefereeTakeover (rule T13)', () => {
  it('runs taken-over tasks in order within the referee budget, waiting out its refusals', async () => {
    const settled: string[] = [];
    let budget = 1;
    const takeover = new RefereeTakeover(
      {
        run: () =>
          budget-- > 0 ? Promise.resolve<RefereeOutcome>({ kind: 'detections', detections: [] }) : null,
        image: async () => new Uint8Array(1),
        settled: (taskId) => settled.push(taskId),
        gaveUp: () => {},
        report: (err) => {
          throw err;
        },
      },
      1,
    );
    takeover.request('a');
    takeover.request('b');
    takeover.request('a'); // keeps its place
    await until(() => settled.length === 1);
    setTimeout(() => (budget = 5), 50); // the referee has room again
    await until(() => settled.length === 2);
    expect(settled).toEqual(['a', 'b']);
    expect(takeover.size).toBe(0);
    takeover.stop();
  });

  it('gives up on a task after its failed runs; a finished task is dropped', async () => {
    const gaveUp: string[] = [];
    let runs = 0;
    const takeover = new RefereeTakeover({
      run: () => (runs++, Promise.reject(new Error('no model'))),
      image: async (taskId) => (taskId === 'done' ? null : new Uint8Array(1)),
      settled: () => {},
      gaveUp: (taskId) => gaveUp.push(taskId),
      report: () => {},
    });
    takeover.request('done');
    takeover.request('broken');
    await until(() => gaveUp.length === 1);
    expect(gaveUp).toEqual(['broken']);
    expect(runs).toBe(TAKEOVER_MAX_FAILURES);
    expect(takeover.size).toBe(0);
    takeover.stop();
  });
});
