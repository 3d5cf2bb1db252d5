import { TabgridError, formatBytes } from '@tabgrid/protocol';

/** A refusal that says when to come back (`Retry-After`, seconds). */
export class RetryLaterError extends TabgridError {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super('rate_limited', message, 429);
  }
}

/**
 * Per-key upload limits beside the uploads-per-minute count (PROTOCOL.md rule H5): uploads being
 * received at once, and bytes per minute (a token bucket per key that refills continuously,
 * counted as the bytes arrive). In memory per gateway; keys idle for a minute are forgotten.
 */
export class UploadBudget {
  private readonly running = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    /** Uploads at once per key; 0 = no limit. */
    private readonly maxConcurrent: number,
    /** Bytes per key per minute; 0 = no limit. */
    private readonly bytesPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts an upload of `key`, or throws `429 rate_limited`; call the returned function when it ends. */
  begin(key: string): () => void {
    const n = this.running.get(key) ?? 0;
    if (this.maxConcurrent > 0 && n >= this.maxConcurrent) {
      throw new RetryLaterError(
        `at most ${this.maxConcurrent} uploads per key at once; retry when one has finished`,
        1,
      );
    }
    this.running.set(key, n + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.running.get(key) ?? 1) - 1;
      if (left > 0) this.running.set(key, left);
      else this.running.delete(key);
    };
  }

  /** Counts `bytes` against the key's budget, or throws `429 rate_limited` once it is spent. */
  take(key: string, bytes: number): void {
    if (this.bytesPerMinute === 0) return;
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.bytesPerMinute, at: now };
    b.tokens = Math.min(this.bytesPerMinute, b.tokens + ((now - b.at) / 60_000) * this.bytesPerMinute);
    b.at = now;
    this.buckets.set(key, b);
    this.forgetIdle(now);
    if (b.tokens < bytes) {
      const waitS = Math.max(1, Math.ceil(((bytes - b.tokens) / this.bytesPerMinute) * 60));
      throw new RetryLaterError(
        `this key uploaded more than ${formatBytes(this.bytesPerMinute)} in the last minute; retry in ${waitS} s`,
        waitS,
      );
    }
    b.tokens -= bytes;
  }

  private forgetIdle(now: number): void {
    if (this.buckets.size < 10_000) return;
    for (const [key, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(key);
  }
}
