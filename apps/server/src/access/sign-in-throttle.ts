/**
 * Failed sign-ins (a wrong API key) per client address (docs/SECURITY.md "Key guessing"): past
 * `maxFailures` in one window, the address is refused `429 rate_limited` with `Retry-After` until
 * the window ends, whatever key it sends. Kept in memory per gateway, for at most `maxAddresses`
 * addresses (the oldest window is forgotten first).
 */
export class SignInThrottle {
  /** address -> failures in the window that started at `since` (insertion order = age). */
  private readonly windows = new Map<string, { count: number; since: number }>();

  constructor(
    /** Failures allowed per address per window; 0 = no limit. @defaultValue 10 */
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly maxAddresses = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds this address must wait before its next sign-in is looked at; 0 when it may try now. */
  retryAfter(address: string): number {
    const w = this.current(address);
    if (!w || this.maxFailures === 0 || w.count < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.since + this.windowMs - this.now()) / 1000));
  }

  /** A sign-in from this address presented a key that is not valid. */
  failed(address: string): void {
    if (this.maxFailures === 0) return;
    const w = this.current(address);
    if (w) {
      w.count++;
      return;
    }
    if (this.windows.size >= this.maxAddresses) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    this.windows.set(address, { count: 1, since: this.now() });
  }

  private current(address: string) {
    const w = this.windows.get(address);
    if (w && this.now() - w.since >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }
}
