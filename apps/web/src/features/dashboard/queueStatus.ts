import type { LiveStats } from '@tabgrid/protocol';

export type QueueStatus =
  | { kind: 'unknown' }
  | { kind: 'no-volunteers'; waiting: number }
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
