/**
 * The live wall's chart history (PROTOCOL.md rule L7): one point per 5 s over
 * the last 10 minutes, taken from the `live:stats` figures, sent once in
 * `live:snapshot` so a new viewer's charts start full. The viewer appends every
 * `live:stats` itself afterwards: nothing is polled.
 */
import { liveHistoryPoint, type LiveHistoryPoint, type LiveStats } from '@tabgrid/protocol';

export const HISTORY_SPAN_MS = 10 * 60_000;
export const HISTORY_STEP_MS = 5_000;

export class LiveHistory {
  private readonly points: LiveHistoryPoint[] = [];

  constructor(
    private readonly spanMs = HISTORY_SPAN_MS,
    private readonly stepMs = HISTORY_STEP_MS,
  ) {}

  /** Keeps `stats` if the last kept point is at least a step older; drops points past the span. */
  record(stats: LiveStats): void {
    const last = this.points.at(-1);
    if (last && stats.at - last.at < this.stepMs) return;
    this.points.push(liveHistoryPoint(stats));
    const oldest = stats.at - this.spanMs;
    while (this.points.length > 0 && this.points[0]!.at < oldest) this.points.shift();
  }

  /** Oldest first, at most span / step + 1 points. */
  snapshot(): LiveHistoryPoint[] {
    return [...this.points];
  }
}
