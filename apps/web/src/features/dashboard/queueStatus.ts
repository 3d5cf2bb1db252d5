import type { LiveStats } from '@tabgrid/protocol';

export type QueueStatus =
  | { kind: 'unknown' }
  | { kind: 'no-volunteers'; waiting: number }
  /** Volunteers are connected but none can take work (all paused or quarantined): photos wait. */
  | { kind: 'none-ready'; volunteers: number; paused: number; waiting: number }
  | { kind: 'idle'; volunteers: number }
  | { kind: 'working'; volunteers: number; waiting: number; perMinute: number; etaMs: number | null };

/**
 * What the queue banner says, from the latest `/live` figures: nobody online (photos wait), or
 * how long the photos waiting now (everyone's, the caller's included: an upper bound for the
 * caller's own) take at the rate of the last minute. No rate yet means no estimate.
 */
export function queueStatus(stats: LiveStats | null): QueueStatus {
  if (!stats) return { kind: 'unknown' };
  const waiting = stats.tasks.queued + stats.tasks.running;
  if (stats.volunteersOnline === 0) return { kind: 'no-volunteers', waiting };
  // Servers that send the breakdown (rule L11): online is not the same as able to take work.
  if (stats.volunteers && stats.volunteers.ready === 0 && stats.volunteers.working === 0)
    return {
      kind: 'none-ready',
      volunteers: stats.volunteersOnline,
      paused: stats.volunteers.paused,
      waiting,
    };
  if (waiting === 0) return { kind: 'idle', volunteers: stats.volunteersOnline };
  const perMinute = stats.resultsLastMinute;
  return {
    kind: 'working',
    volunteers: stats.volunteersOnline,
    waiting,
    perMinute,
    etaMs: perMinute > 0 ? (waiting / perMinute) * 60_000 : null,
  };
}

/** `45 s`, `12 min`, `2 h 5 min`. */
export function formatDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}
