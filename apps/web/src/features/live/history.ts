import type { LiveHistoryPoint } from '@tabgrid/protocol';

/** The charts' window. */
export const HISTORY_SPAN_MS = 10 * 60_000;

/** Appends a point (ignoring one not newer than the last) and drops those older than the window. */
export function appendHistory(
  history: readonly LiveHistoryPoint[],
  point: LiveHistoryPoint,
): LiveHistoryPoint[] {
  const last = history.at(-1);
  const kept = last && point.at <= last.at ? [...history] : [...history, point];
  const oldest = point.at - HISTORY_SPAN_MS;
  return kept.filter((p) => p.at >= oldest);
}
