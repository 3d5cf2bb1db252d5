import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, retryDelay } from './backoff';

describe('webhook retry schedule (W6)', () => {
  it('grows by the factor from the base, capped, and stops after the last attempt', () => {
    const mid = () => 0.5;
    const waits = Array.from({ length: 8 }, (_, i) => retryDelay(i + 1, DEFAULT_RETRY, mid));
    expect(waits).toEqual([5000, 30_000, 180_000, 1_080_000, 6_480_000, 21_600_000, 21_600_000, null]);
  });

  it('jitters within ± 20 %', () => {
    expect(retryDelay(2, DEFAULT_RETRY, () => 0)).toBe(24_000);
    expect(retryDelay(2, DEFAULT_RETRY, () => 0.999_999)).toBeCloseTo(36_000, -1);
  });
});
