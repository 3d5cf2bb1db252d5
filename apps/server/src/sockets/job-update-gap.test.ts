import { describe, expect, it } from 'vitest';
import { jobUpdateGapMs } from './live-namespace';

describe('job:update pacing (issue 16: a big job is not re-sent whole every 50 ms)', () => {
  it('keeps 50 ms for jobs up to 500 tasks, then grows with the job, at most 2 s', () => {
    expect(jobUpdateGapMs(1)).toBe(50);
    expect(jobUpdateGapMs(500)).toBe(50);
    expect(jobUpdateGapMs(1000)).toBe(100);
    expect(jobUpdateGapMs(10_000)).toBe(1000);
    expect(jobUpdateGapMs(1_000_000)).toBe(2000);
  });
});
