import type { LatencySummary } from '@tabgrid/protocol';

/**
 * Samples of one latency over a sliding time window (default: the last
 * minute), summarised as count and nearest-rank p50/p95/p99.
 */
export class RollingWindow {
  private times: number[] = [];
  private values: number[] = [];

  constructor(private readonly windowMs = 60_000) {}

  add(value: number, at = Date.now()): void {
    this.times.push(at);
    this.values.push(value);
  }

  private prune(now: number): void {
    const cutoff = now - this.windowMs;
    let i = 0;
    while (i < this.times.length && this.times[i]! < cutoff) i++;
    if (i > 0) {
      this.times = this.times.slice(i);
      this.values = this.values.slice(i);
    }
  }

  count(now = Date.now()): number {
    this.prune(now);
    return this.values.length;
  }

  summary(now = Date.now()): LatencySummary {
    this.prune(now);
    const sorted = [...this.values].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
    };
  }
}

/** Nearest-rank percentile of an ascending array; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return Math.round(sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]! * 10) / 10;
}
