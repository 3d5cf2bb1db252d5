/** How deliveries are retried (PROTOCOL.md W6). */
export interface RetrySchedule {
  /** Wait before the second attempt, ms. @defaultValue 5000 (env TABGRID_WEBHOOK_RETRY_MS) */
  baseMs: number;
  /** Each later wait is this many times the previous one. @defaultValue 6 */
  factor: number;
  /** Longest wait between two attempts. @defaultValue 6 h */
  maxMs: number;
  /** Attempts in all, the first included, before the delivery is given up. @defaultValue 8 */
  maxAttempts: number;
  /** Each wait is drawn uniformly within ± this fraction of its nominal value. @defaultValue 0.2 */
  jitter: number;
}

export const DEFAULT_RETRY: RetrySchedule = {
  baseMs: 5000,
  factor: 6,
  maxMs: 6 * 3600_000,
  maxAttempts: 8,
  jitter: 0.2,
};

/**
 * The wait after failed attempt number `attempt` (1 = the first), or null when that was the last
 * attempt. With the defaults: 5 s, 30 s, 3 min, 18 min, 1.8 h, then 6 h twice (± 20 %), about
 * 14.5 hours from the first attempt to the last.
 *
 * @example retryDelay(1, DEFAULT_RETRY, () => 0.5) // 5000
 */
export function retryDelay(
  attempt: number,
  schedule: RetrySchedule,
  random: () => number = Math.random,
): number | null {
  if (attempt >= schedule.maxAttempts) return null;
  const nominal = Math.min(schedule.maxMs, schedule.baseMs * schedule.factor ** (attempt - 1));
  const spread = nominal * schedule.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(nominal + spread));
}
