import { describe, expect, it } from 'vitest';
import { addToTally, localDay } from './tally';

describe('tally', () => {
  it('adds to today and to all', () => {
    expect(addToTally({ day: '2026-11-26', today: 2, total: 10 }, 3, '2026-11-26')).toEqual({
      day: '2026-11-26',
      today: 5,
      total: 13,
    });
  });

  it('starts a new day at zero, keeping the total', () => {
    expect(addToTally({ day: '2026-11-25', today: 7, total: 10 }, 1, '2026-11-26')).toEqual({
      day: '2026-11-26',
      today: 1,
      total: 11,
    });
  });

  it('names the local day', () => {
    expect(localDay(new Date(2026, 0, 5, 23, 59))).toBe('2026-01-05');
  });
});
