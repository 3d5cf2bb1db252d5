import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BusyMeter, DutyCycle, restAfterMs } from './dutyCycle';

describe('restAfterMs', () => {
  it('rests so that busy time is the given share of wall time', () => {
    expect(restAfterMs(400, 1)).toBe(0);
    expect(restAfterMs(400, 0.5)).toBe(400); // 400 busy + 400 rest = 50 %
    expect(restAfterMs(300, 0.25)).toBe(900); // 300 / (300 + 900) = 25 %
    expect(restAfterMs(400, 0.75)).toBe(133);
    expect(restAfterMs(0, 0.5)).toBe(0);
  });
});

describe('DutyCycle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('rests after a task, tells when resting starts and ends', () => {
    const changes: boolean[] = [];
    const duty = new DutyCycle(() => changes.push(duty.resting));
    duty.setFraction(0.5);
    duty.taskDone(200);
    expect(duty.resting).toBe(true);
    vi.advanceTimersByTime(199);
    expect(duty.resting).toBe(true);
    vi.advanceTimersByTime(2);
    expect(duty.resting).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('never rests at 100 %, and stops resting when the budget is raised to 100 %', () => {
    const duty = new DutyCycle(() => undefined);
    duty.taskDone(500);
    expect(duty.resting).toBe(false);
    duty.setFraction(0.25);
    duty.taskDone(500);
    expect(duty.resting).toBe(true);
    duty.setFraction(1);
    expect(duty.resting).toBe(false);
  });
});

describe('DutyCycle.untilRested', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds the next inference until the rest is over (held tasks no longer run through it)', async () => {
    const duty = new DutyCycle(() => undefined);
    duty.setFraction(0.25);
    duty.taskDone(100); // 300 ms rest
    let started = false;
    void duty.untilRested().then(() => (started = true));
    await vi.advanceTimersByTimeAsync(299);
    expect(started).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(started).toBe(true);
  });
});

describe('BusyMeter', () => {
  it('measures busy time per worker over the window', () => {
    const meter = new BusyMeter(10_000);
    expect(meter.share(1, 0)).toBeNull();
    meter.add(0, 1000);
    meter.add(4000, 5000);
    expect(meter.share(1, 8000)).toBeCloseTo(0.25);
    expect(meter.share(2, 8000)).toBeCloseTo(0.125);
    // Only the last 10 s count.
    expect(meter.share(1, 14_000)).toBeCloseTo(0.1);
  });
});
