/** How a task's referee run is tried again (PROTOCOL.md rule V9). */
export interface RefereeRetryPolicy {
  /** First wait (ms); doubled after every failed or deferred try. The referee wait (`refereeAfterMs`). */
  baseMs: number;
  /** Longest wait between tries (ms). */
  maxDelayMs: number;
  /** Failed runs (worker error, model missing, image unreadable) before the referee gives up on a task. */
  maxFailures: number;
}

export const DEFAULT_REFEREE_RETRY: RefereeRetryPolicy = { baseMs: 3000, maxDelayMs: 60_000, maxFailures: 5 };

/** Why the referee did not settle a task this time. */
export type RefereeMiss =
  /** The run failed: counts toward `maxFailures`. */
  | 'failed'
  /** Over the CPU budget: tried again later, never given up (a third volunteer may settle it first). */
  | 'over_budget';

/**
 * Backoff for referee runs, per task: base·2^tries, at most `maxDelayMs`. After `maxFailures`
 * failed runs the referee gives up on the task: it stays queued for other volunteers (a third
 * volunteer breaks the tie, rule V3) and the task deadline bounds the wait.
 */
export class RefereeRetries {
  private readonly tries = new Map<string, { failures: number; deferrals: number }>();

  constructor(private readonly policy: RefereeRetryPolicy = DEFAULT_REFEREE_RETRY) {}

  /** The wait (ms) before the next try, or null when the referee gives up on this task. */
  next(taskId: string, miss: RefereeMiss): number | null {
    const t = this.tries.get(taskId) ?? { failures: 0, deferrals: 0 };
    if (miss === 'failed') t.failures++;
    else t.deferrals++;
    this.tries.set(taskId, t);
    if (t.failures >= this.policy.maxFailures) {
      this.tries.delete(taskId);
      return null;
    }
    const n = t.failures + t.deferrals;
    return Math.min(this.policy.maxDelayMs, this.policy.baseMs * 2 ** Math.min(n, 20));
  }

  /** The task was settled or ended. */
  forget(taskId: string): void {
    this.tries.delete(taskId);
  }

  /** Tasks with a try pending (for tests and metrics). */
  get size(): number {
    return this.tries.size;
  }
}
