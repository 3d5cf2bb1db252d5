import type { LiveStats } from '@tabgrid/protocol';
import { LiveSnapshotSchema } from '@tabgrid/protocol';
import { describe, expect, it } from 'vitest';
import { LiveHistory } from './live-history';

const summary = (p50: number | null, p95: number | null) => ({
  count: p50 === null ? 0 : 3,
  p50,
  p95,
  p99: p95,
});

const stats = (at: number, results = 0): LiveStats => ({
  at,
  volunteersOnline: 2,
  tasks: { queued: 0, running: 0, done: 0, failed: 0 },
  ackLatencyMs: summary(20, 40),
  resultLatencyMs: summary(results ? 800 : null, results ? 1200 : null),
  inferenceMs: summary(null, null),
  resultsLastMinute: results,
  requeuedLastMinute: 0,
  eventLoopLagMs: { p50: 1, p99: 2, max: 3 },
});

describe('LiveHistory', () => {
  it('keeps one point per 5 s and only the last 10 minutes', () => {
    const history = new LiveHistory();
    const t0 = 1_000_000;
    for (let s = 0; s <= 15 * 60; s++) history.record(stats(t0 + s * 1000, s % 7));
    const points = history.snapshot();
    expect(points.length).toBe(121); // 10 min / 5 s, both ends kept
    expect(points[0]!.at).toBe(t0 + 5 * 60_000);
    expect(points.at(-1)!.at).toBe(t0 + 15 * 60_000);
    for (let i = 1; i < points.length; i++) expect(points[i]!.at - points[i - 1]!.at).toBe(5000);
  });

  it('carries the figures the charts draw, and fits the wire schema', () => {
    const history = new LiveHistory();
    history.record(stats(10_000, 4));
    history.record(stats(12_000, 9)); // within the step: dropped
    const [point] = history.snapshot();
    expect(point).toEqual({
      at: 10_000,
      resultsPerMinute: 4,
      volunteersOnline: 2,
      resultP50: 800,
      resultP95: 1200,
      ackP95: 40,
    });
    const wire = { stats: stats(12_000), recent: [], history: history.snapshot() };
    expect(LiveSnapshotSchema.parse(wire).history).toHaveLength(1);
  });
});
