import type { LiveStats } from '@tabgrid/protocol';
import { describe, expect, it } from 'vitest';
import { mergeStats } from './merge-stats';

const latency = (count: number, p50: number | null, p95: number | null, p99: number | null) => ({
  count,
  p50,
  p95,
  p99,
});

function stats(overrides: Partial<LiveStats>): LiveStats {
  return {
    at: 1,
    volunteersOnline: 0,
    tasks: { queued: 0, running: 0, done: 0, failed: 0 },
    ackLatencyMs: latency(0, null, null, null),
    resultLatencyMs: latency(0, null, null, null),
    inferenceMs: latency(0, null, null, null),
    resultsLastMinute: 0,
    requeuedLastMinute: 0,
    eventLoopLagMs: { p50: null, p99: null, max: null },
    ...overrides,
  };
}

describe('mergeStats (the live wall over several gateways)', () => {
  it('is the own snapshot when no other gateway is live', () => {
    const own = stats({ volunteersOnline: 3 });
    expect(mergeStats(own, [])).toBe(own);
  });

  it('adds volunteers, results and requeues; takes task counts from the shared store once', () => {
    const own = stats({
      at: 10,
      volunteersOnline: 3,
      resultsLastMinute: 5,
      requeuedLastMinute: 1,
      tasks: { queued: 7, running: 2, done: 9, failed: 0 },
    });
    const other = stats({
      at: 9,
      volunteersOnline: 4,
      resultsLastMinute: 6,
      requeuedLastMinute: 2,
      tasks: { queued: 6, running: 3, done: 8, failed: 0 },
    });
    const merged = mergeStats(own, [other, stats({ volunteersOnline: 1 })]);
    expect(merged).toMatchObject({
      at: 10,
      volunteersOnline: 8,
      resultsLastMinute: 11,
      requeuedLastMinute: 3,
      tasks: own.tasks,
    });
  });

  it('reports the highest percentile of the gateways that have samples, and their total count', () => {
    const merged = mergeStats(stats({ ackLatencyMs: latency(10, 5, 9, 12) }), [
      stats({ ackLatencyMs: latency(4, 7, 8, 30) }),
      stats({ ackLatencyMs: latency(0, null, null, null) }),
      stats({ eventLoopLagMs: { p50: 1, p99: 40, max: 90 } }),
    ]);
    expect(merged.ackLatencyMs).toEqual(latency(14, 7, 9, 30));
    expect(merged.resultLatencyMs).toEqual(latency(0, null, null, null));
    expect(merged.eventLoopLagMs).toEqual({ p50: 1, p99: 40, max: 90 });
  });
});
