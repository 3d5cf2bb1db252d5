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

  it('declines past a fifth of the latest tasks halve the limit, once per fifth; results win it back', () => {
    const p = new StallPolicy();
    for (let i = 0; i < 9; i++) p.declined('d');
    expect(p.limit('d', 8)).toBe(8); // fewer than 10 outcomes: not judged yet
    p.answered('d');
    expect(p.declineShare('d')).toBeCloseTo(0.9);
    expect(p.limit('d', 8)).toBe(1); // 90 %: four halvings, capped where the limit is one task
    const honest = new StallPolicy();
    for (let i = 0; i < 20; i++) {
      if (i % 5 === 0) honest.declined('h');
      else honest.answered('h');
    }
    expect(honest.limit('h', 8)).toBe(8); // 20 %: not more than the share
    honest.declined('h');
    honest.declined('h');
    expect(honest.declineShare('h')).toBeCloseTo(0.25);
    expect(honest.limit('h', 8)).toBe(4); // 25 %: halved
    for (let i = 0; i < 20; i++) honest.answered('h');
    expect(honest.limit('h', 8)).toBe(8); // the window moved on
    const off = new StallPolicy({ declines: { window: 20, minOutcomes: 10, maxShare: 1 } });
    for (let i = 0; i < 20; i++) off.declined('x');
    expect(off.limit('x', 8)).toBe(8);
  });

  it("a new identity inherits its network's halvings, never lowers its own, and answers them away", () => {
    const p = new StallPolicy();
    expect(p.stalled('old', 8)).toBe(1);
    expect(p.stalled('old', 8)).toBe(2);
    p.inherit('fresh', 2);
    expect(p.limit('fresh', 8)).toBe(2);
    p.inherit('fresh', 1); // a lower mark leaves it as it is
    expect(p.penalty('fresh')).toBe(2);
    p.answered('fresh');
    p.answered('fresh');
    expect(p.limit('fresh', 8)).toBe(8);
  });
});
