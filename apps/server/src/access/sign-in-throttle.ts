import type { EdgeMemory } from '../edges/edge-memory';

/**
 * Failed sign-ins (a wrong API key) per client address (docs/SECURITY.md "Key guessing", rule
 * H4): past `maxFailures` in one window, the address is refused `429 rate_limited` with
 * `Retry-After` until the window ends, whatever key it sends. The windows are the edge memory's
 * (`EdgeMemory.count`): this process's on SQLite, shared by every gateway on Redis, so guesses
 * spread over gateways count together.
 */
export class SignInThrottle {
  constructor(
    private readonly memory: EdgeMemory,
    /** Failures allowed per address per window; 0 = no limit. @defaultValue 10 */
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds this address must wait before its next sign-in is looked at; 0 when it may try now. */
  async retryAfter(address: string): Promise<number> {
    if (this.maxFailures === 0) return 0;
    const now = this.now();
    const w = await this.memory.peek(keyOf(address), now);
    if (!w || w.count < this.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.endsAt - now) / 1000));
  }

  /** A sign-in from this address presented a key that is not valid. */
  async failed(address: string): Promise<void> {
    if (this.maxFailures === 0) return;
    await this.memory.count(keyOf(address), this.windowMs, this.now());
  }
}

const keyOf = (address: string) => `signin:${address}`;
