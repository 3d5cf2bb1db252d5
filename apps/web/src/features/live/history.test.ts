import type { LiveHistoryPoint } from '@tabgrid/protocol';
import { describe, expect, it } from 'vitest';
import { HISTORY_SPAN_MS, appendHistory } from './history';

const point = (at: number): LiveHistoryPoint => ({
  at,
  resultsPerMinute: 1,
  volunteersOnline: 1,
  resultP50: null,
  resultP95: null,
  ackP95: null,
});

describe('appendHistory', () => {
  it('appends newer points and keeps only the last 10 minutes', () => {
    let h: LiveHistoryPoint[] = [];
    for (let s = 0; s <= 700; s++) h = appendHistory(h, point(s * 1000));
    expect(h[0]!.at).toBe(700_000 - HISTORY_SPAN_MS);
    expect(h.at(-1)!.at).toBe(700_000);
    expect(h).toHaveLength(601);
  });

  it('ignores a point that is not newer (a snapshot after stats, a reconnect)', () => {
    const h = appendHistory([point(5000)], point(5000));
    expect(h).toHaveLength(1);
    expect(appendHistory(h, point(4000))).toHaveLength(1);
  });
});
