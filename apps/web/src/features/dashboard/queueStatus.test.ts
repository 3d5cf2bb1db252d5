import type { LiveStats } from '@tabgrid/protocol';
import { describe, expect, it } from 'vitest';
import { formatDuration, queueStatus } from './queueStatus';

const latency = { count: 0, p50: null, p95: null, p99: null };
function stats(
  volunteersOnline: number,
  queued: number,
  running: number,
  resultsLastMinute: number,
): LiveStats {
  return {
    at: 0,
    volunteersOnline,
    tasks: { queued, running, done: 0, failed: 0 },
    ackLatencyMs: latency,
    resultLatencyMs: latency,
    inferenceMs: latency,
    resultsLastMinute,
    requeuedLastMinute: 0,
    eventLoopLagMs: { p50: null, p99: null, max: null },
  };
}

describe('queueStatus', () => {
  it('says volunteers online but all paused leave photos waiting (rule L11)', () => {
    const paused = {
      ...stats(2, 1, 0, 0),
      volunteers: { online: 2, ready: 0, working: 0, paused: 2, quarantined: 0 },
    };
    expect(queueStatus(paused)).toEqual({ kind: 'none-ready', volunteers: 2, paused: 2, waiting: 1 });
    const oneReady = { ...paused, volunteers: { ...paused.volunteers, ready: 1, paused: 1 } };
    expect(queueStatus(oneReady).kind).toBe('working');
  });
  it('says nobody is online, with what waits', () => {
    expect(queueStatus(stats(0, 7, 0, 0))).toEqual({ kind: 'no-volunteers', waiting: 7 });
  });
  it('estimates from the last minute’s rate', () => {
    expect(queueStatus(stats(2, 50, 10, 30))).toEqual({
      kind: 'working',
      volunteers: 2,
      waiting: 60,
      perMinute: 30,
      etaMs: 120_000,
    });
  });
  it('gives no estimate before the first result', () => {
    expect(queueStatus(stats(1, 5, 1, 0))).toMatchObject({ kind: 'working', etaMs: null });
  });
  it('is idle with volunteers and nothing waiting, unknown without figures', () => {
    expect(queueStatus(stats(3, 0, 0, 12))).toEqual({ kind: 'idle', volunteers: 3 });
    expect(queueStatus(null)).toEqual({ kind: 'unknown' });
  });
  it('formats durations for people', () => {
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(12 * 60_000)).toBe('12 min');
    expect(formatDuration(125 * 60_000)).toBe('2 h 5 min');
  });
});
