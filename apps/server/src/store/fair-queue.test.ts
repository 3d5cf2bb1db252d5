import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue';

/** Jobs named `<owner>-<n>`: the owner is the part before the dash. */
const queue = () => new FairQueue((jobId) => jobId.split('-')[0]!);
const drain = (q: FairQueue, accept?: (taskId: string) => boolean) => {
  const out: string[] = [];
  for (let next = q.take(accept); next; next = q.take(accept)) out.push(next.taskId);
  return out;
};

describe('FairQueue', () => {
  it('rotates across requesters first: a flood of jobs does not starve another requester', () => {
    const q = queue();
    for (let j = 0; j < 5; j++) for (let t = 0; t < 3; t++) q.pushBack(`a-${j}`, `a${j}.${t}`);
    q.pushBack('b-0', 'b0.0');
    const order = drain(q);
    expect(order.indexOf('b0.0')).toBeLessThanOrEqual(1);
    expect(order).toHaveLength(16);
    expect(q.size).toBe(0);
  });

  it('rotates across one requester’s jobs, and keeps FIFO within a job', () => {
    const q = queue();
    q.pushBack('a-1', 'x1');
    q.pushBack('a-1', 'x2');
    q.pushBack('a-2', 'y1');
    q.pushBack('a-2', 'y2');
    expect(drain(q)).toEqual(['x1', 'y1', 'x2', 'y2']);
  });

  it('alternates requesters task by task while both have work', () => {
    const q = queue();
    for (let t = 0; t < 3; t++) q.pushBack('a-1', `a${t}`);
    for (let t = 0; t < 3; t++) q.pushBack('b-1', `b${t}`);
    expect(drain(q)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('returned work goes first within its job; refused tasks stay queued; remove() takes one out', () => {
    const q = queue();
    q.pushBack('a-1', 'a1');
    q.pushBack('a-1', 'a2');
    q.pushFront('a-1', 'a0');
    expect(q.remove('a-1', 'a2')).toBe(true);
    expect(q.remove('a-1', 'nope')).toBe(false);
    expect(drain(q, (id) => id !== 'a0')).toEqual(['a1']);
    expect(q.size).toBe(1);
    expect(drain(q)).toEqual(['a0']);
  });

  it('picks a requester up again after its queue emptied', () => {
    const q = queue();
    q.pushBack('a-1', 'a1');
    expect(drain(q)).toEqual(['a1']);
    q.pushBack('a-1', 'a2');
    q.pushBack('b-1', 'b1');
    expect(drain(q).sort()).toEqual(['a2', 'b1']);
  });
});
