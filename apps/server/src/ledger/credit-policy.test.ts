import { describe, expect, it } from 'vitest';
import {
  bonusEligible,
  canMove,
  DAY_MS,
  DEFAULT_CREDIT_POLICY,
  foldTotals,
  quickReturnMsFor,
} from './policy';

const P = DEFAULT_CREDIT_POLICY;

describe('credit policy', () => {
  it("requires Folding@home's 10 verified results and an 80 % verified rate for the bonus", () => {
    expect(bonusEligible(9, 0, P)).toBe(false);
    expect(bonusEligible(10, 0, P)).toBe(true);
    expect(bonusEligible(12, 3, P)).toBe(true); // exactly 80 %
    expect(bonusEligible(12, 4, P)).toBe(false); // 75 %
  });

  it('allows only provisional -> granted | revoked and granted -> revoked', () => {
    expect(canMove('provisional', 'granted')).toBe(true);
    expect(canMove('provisional', 'revoked')).toBe(true);
    expect(canMove('granted', 'revoked')).toBe(true);
    expect(canMove('provisional', 'provisional')).toBe(false);
    expect(canMove('granted', 'granted')).toBe(false);
    expect(canMove('granted', 'provisional')).toBe(false);
    expect(canMove('revoked', 'granted')).toBe(false);
    expect(canMove('revoked', 'provisional')).toBe(false);
  });

  it('derives the quick-return window from the assignment cap', () => {
    expect(quickReturnMsFor(600_000)).toBe(60_000);
    expect(quickReturnMsFor(2000)).toBe(1000);
  });

  it('folds an entry by its latest legal event, and counts today by the entry day', () => {
    const now = 100 * DAY_MS + 5;
    const entry = (assignmentId: string, day: number, bonus = 0) => ({
      assignmentId,
      volunteerId: 'v',
      taskId: 't',
      base: 10,
      bonus,
      day,
      at: day * DAY_MS,
    });
    const ev = (assignmentId: string, state: 'provisional' | 'granted' | 'revoked') => ({
      assignmentId,
      state,
      reason: null,
      at: 0,
    });
    const t = foldTotals(
      [entry('a', 100, 5), entry('b', 99), entry('c', 100), entry('d', 100)],
      [
        ev('a', 'provisional'),
        ev('a', 'granted'),
        ev('b', 'granted'),
        ev('c', 'provisional'),
        ev('d', 'granted'),
        ev('d', 'revoked'),
        ev('d', 'granted'), // illegal after revoked: ignored
      ],
      now,
    );
    expect(t).toEqual({
      day: 100,
      today: { pending: 10, granted: 15 },
      total: { pending: 10, granted: 25, revoked: 10 },
      grantedCount: 2,
      revokedCount: 1,
    });
  });
});
