/**
 * Exponential backoff with ±25 % jitter, for reconnecting after the server
 * refused or closed the connection (socket.io does not retry those itself).
 */
export class Backoff {
  private next: number;

  constructor(
    private readonly minMs = 1000,
    private readonly maxMs = 15_000,
  ) {
    this.next = minMs;
  }

  /** The delay before the next attempt (doubles each call, capped). */
  delay(): number {
    const base = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return base * (0.75 + Math.random() * 0.5);
  }

  reset(): void {
    this.next = this.minMs;
  }
}
