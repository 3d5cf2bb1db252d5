import { describe, expect, it } from 'vitest';
import { StallPolicy } from './stall-policy';

describe('StallPolicy (rule V11)', () => {
  it('halves the limit per stall down to one task, and undoes one halving per result', () => {
    const p = new StallPolicy();
    expect(p.limit('v', 4)).toBe(4);
    p.stalled('v', 4);
    expect(p.limit('v', 4)).toBe(2);
    p.stalled('v', 4);
    expect(p.limit('v', 4)).toBe(1);
    // More stalls change nothing more, so they do not lengthen the recovery either.
    p.stalled('v', 4);
    p.stalled('v', 4);
    expect(p.penalty('v')).toBe(2);
    p.answered('v');
    expect(p.limit('v', 4)).toBe(2);
    p.answered('v');
    expect(p.limit('v', 4)).toBe(4);
    expect(p.penalty('v')).toBe(0);
  });

  it('never goes below one task, keeps identities apart, and a one-slot volunteer keeps its one task', () => {
    const p = new StallPolicy();
    p.stalled('a', 1);
    expect(p.limit('a', 1)).toBe(1);
    expect(p.penalty('a')).toBe(0);
    p.stalled('b', 3);
    expect(p.limit('b', 3)).toBe(1);
    expect(p.limit('c', 3)).toBe(3);
    p.answered('c');
    expect(p.limit('c', 3)).toBe(3);
  });

  it('keeps penalties for a bounded number of volunteers (the least recently penalised forgotten)', () => {
    const p = new StallPolicy({ max: 3 });
    for (const v of ['a', 'b', 'c', 'd', 'e']) p.stalled(v, 4);
    expect(p.size).toBe(3);
    expect(p.penalty('a')).toBe(0);
    expect(p.penalty('b')).toBe(0);
    expect(p.penalty('e')).toBe(1);
  });
});
