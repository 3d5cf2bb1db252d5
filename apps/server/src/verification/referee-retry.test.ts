import { describe, expect, it } from 'vitest';
import { RefereeRetries } from './referee-retry';

describe('RefereeRetries (rule V9)', () => {
  it('backs off exponentially, capped, and gives up after maxFailures failed runs', () => {
    const r = new RefereeRetries({ baseMs: 100, maxDelayMs: 350, maxFailures: 3 });
    expect(r.next('t', 'failed')).toBe(200);
    expect(r.next('t', 'failed')).toBe(350);
    expect(r.next('t', 'failed')).toBeNull();
    // Given up: the task's count starts again should it wait again later.
    expect(r.size).toBe(0);
  });

  it('never gives up for the budget alone, and forgets a settled task', () => {
    const r = new RefereeRetries({ baseMs: 100, maxDelayMs: 1000, maxFailures: 2 });
    for (let i = 0; i < 50; i++) expect(r.next('t', 'over_budget')).not.toBeNull();
    expect(r.next('t', 'over_budget')).toBe(1000);
    expect(r.next('u', 'failed')).toBe(200);
    r.forget('u');
    expect(r.next('u', 'failed')).toBe(200);
  });
});
