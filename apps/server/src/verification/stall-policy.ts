import { LRUCache } from 'lru-cache';

/**
 * A volunteer that keeps stalling loses slots (PROTOCOL.md rule V11): each lease it acked and
 * then let lapse (no heartbeat, or past the assignment's wall-clock cap) halves the tasks it may
 * hold, down to one; each result it returns undoes one halving. Multiplicative decrease, gradual
 * recovery, as TCP does with a congested path: a staller quickly holds one task at a time, an
 * honest volunteer that lost its network once is back to full speed after a few results.
 * Kept per identity in memory, so reconnecting does not clear it.
 */
export class StallPolicy {
  /**
   * Halvings in force per volunteer id (0 = full limit; absent = 0). Bounded: at most `max`
   * volunteers (the least recently penalised forgotten first), each penalty forgotten `ttlMs`
   * after its last stall (a volunteer gone that long starts afresh).
   */
  private readonly penalties: LRUCache<string, number>;

  constructor({ max = 100_000, ttlMs = 6 * 3_600_000 }: { max?: number; ttlMs?: number } = {}) {
    this.penalties = new LRUCache({ max, ttl: ttlMs, updateAgeOnGet: false });
  }

  /** Volunteers with a penalty in force. */
  get size(): number {
    return this.penalties.size;
  }

  /** The tasks this volunteer may hold now, given the limit its slots ask for. */
  limit(volunteerId: string, wanted: number): number {
    const halvings = this.penalties.get(volunteerId) ?? 0;
    return Math.max(1, Math.floor(wanted / 2 ** halvings));
  }

  /**
   * An acked lease lapsed: one more halving, up to where the limit is one task (more would only
   * slow the recovery). `wanted` is the limit its slots ask for.
   */
  stalled(volunteerId: string, wanted: number): void {
    const most = Math.ceil(Math.log2(Math.max(1, wanted)));
    this.penalties.set(volunteerId, Math.min(most, (this.penalties.get(volunteerId) ?? 0) + 1));
    if (this.penalties.get(volunteerId) === 0) this.penalties.delete(volunteerId);
  }

  /**
   * A result came back: one halving fewer. (Undoing one halving restores at least one slot, and
   * lifts the penalty entirely after as many results as there were stalls.)
   */
  answered(volunteerId: string): void {
    const halvings = this.penalties.get(volunteerId) ?? 0;
    if (halvings <= 1) this.penalties.delete(volunteerId);
    else this.penalties.set(volunteerId, halvings - 1);
  }

  /** Halvings in force (0 = none). */
  penalty(volunteerId: string): number {
    return this.penalties.get(volunteerId) ?? 0;
  }
}
