import type { LatencySummary, LiveStats } from '@tabgrid/protocol';

/** Highest non-null value, or null. */
const highest = (values: (number | null)[]): number | null =>
  values.reduce<number | null>((top, v) => (v === null ? top : top === null ? v : Math.max(top, v)), null);

/**
 * Percentiles of several gateways' windows cannot be combined exactly without their samples; the
 * highest gateway's percentile is an upper bound of the combined one (every gateway has at least
 * p % of its samples at or below its own pN, so at least p % of all samples are at or below the
 * highest pN). Counts add up.
 */
function mergeLatency(parts: LatencySummary[]): LatencySummary {
  const counted = parts.filter((p) => p.count > 0);
  return {
    count: parts.reduce((sum, p) => sum + p.count, 0),
    p50: highest(counted.map((p) => p.p50)),
    p95: highest(counted.map((p) => p.p95)),
    p99: highest(counted.map((p) => p.p99)),
  };
}

/**
 * The live wall's figures over every live gateway: `own` (this gateway's snapshot, fresh) and the
 * other gateways' last published snapshots. Volunteers, results and requeues add up; task counts
 * come from the shared store, so they are `own`'s (never summed); latencies and event-loop lag are
 * the highest gateway's (an upper bound, see above). PROTOCOL.md rule L9.
 */
export function mergeStats(own: LiveStats, others: readonly LiveStats[]): LiveStats {
  if (others.length === 0) return own;
  const all = [own, ...others];
  return {
    at: own.at,
    volunteersOnline: all.reduce((sum, s) => sum + s.volunteersOnline, 0),
    ...(all.every((s) => s.volunteers)
      ? {
          volunteers: {
            online: all.reduce((sum, s) => sum + s.volunteers!.online, 0),
            ready: all.reduce((sum, s) => sum + s.volunteers!.ready, 0),
            working: all.reduce((sum, s) => sum + s.volunteers!.working, 0),
            paused: all.reduce((sum, s) => sum + s.volunteers!.paused, 0),
            quarantined: all.reduce((sum, s) => sum + s.volunteers!.quarantined, 0),
          },
        }
      : {}),
    tasks: own.tasks,
    ackLatencyMs: mergeLatency(all.map((s) => s.ackLatencyMs)),
    resultLatencyMs: mergeLatency(all.map((s) => s.resultLatencyMs)),
    inferenceMs: mergeLatency(all.map((s) => s.inferenceMs)),
    resultsLastMinute: all.reduce((sum, s) => sum + s.resultsLastMinute, 0),
    requeuedLastMinute: all.reduce((sum, s) => sum + s.requeuedLastMinute, 0),
    eventLoopLagMs: {
      p50: highest(all.map((s) => s.eventLoopLagMs.p50)),
      p99: highest(all.map((s) => s.eventLoopLagMs.p99)),
      max: highest(all.map((s) => s.eventLoopLagMs.max)),
    },
  };
}
