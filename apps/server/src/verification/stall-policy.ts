import { LRUCache } from 'lru-cache';

/** The decline rule's parameters (PROTOCOL.md rule V11). */
export interface DeclinePolicy {
  /** Outcomes (results and declines) remembered per volunteer, the latest ones (at most 32). */
  window: number;
  /** No decline penalty before this many outcomes were seen. */
  minOutcomes: number;
  /**
   * Share of declines in the window above which the limit is halved; once more per further
   * multiple of it (20 %: 30 % halves, 40 % quarters, every task declined: down to one task).
   * 1 or more turns the rule off.
   */
  maxShare: number;
}

export const DEFAULT_DECLINES: DeclinePolicy = { window: 20, minOutcomes: 10, maxShare: 0.2 };

/** A volunteer's latest outcomes: bit i set = the i-th latest was a decline. */
interface Outcomes {
  bits: number;
  n: number;
}

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
  /**
   * The second reason (rule V11, BOINC's daily quota): each volunteer's latest outcomes, results
   * and declines (failure reports, refused offers, canaries dropped). Same bound as `penalties`:
   * at most `max` volunteers, each forgotten `ttlMs` after its latest outcome.
   */
  private readonly outcomes: LRUCache<string, Outcomes>;
  private readonly declines: DeclinePolicy;

  constructor({
    max = 100_000,
    ttlMs = 6 * 3_600_000,
    declines = DEFAULT_DECLINES,
  }: { max?: number; ttlMs?: number; declines?: DeclinePolicy } = {}) {
    this.penalties = new LRUCache({ max, ttl: ttlMs, updateAgeOnGet: false });
    this.outcomes = new LRUCache({ max, ttl: ttlMs, updateAgeOnGet: false });
    this.declines = { ...declines, window: Math.max(1, Math.min(32, Math.floor(declines.window))) };
  }

  /** Volunteers with a stall penalty in force. */
  get size(): number {
    return this.penalties.size;
  }

  /** The tasks this volunteer may hold now, given the limit its slots ask for. */
  limit(volunteerId: string, wanted: number): number {
    const most = Math.ceil(Math.log2(Math.max(1, wanted)));
    const halvings = Math.min(
      most,
      (this.penalties.get(volunteerId) ?? 0) + this.declineHalvings(volunteerId),
    );
    return Math.max(1, Math.floor(wanted / 2 ** halvings));
  }

  /** Share of declines among this volunteer's latest outcomes (0 while fewer than `minOutcomes`). */
  declineShare(volunteerId: string): number {
    const o = this.outcomes.get(volunteerId);
    if (!o || o.n < this.declines.minOutcomes) return 0;
    let declined = 0;
    for (let b = o.bits; b !== 0; b >>>= 1) declined += b & 1;
    return declined / o.n;
  }

  /** Halvings for declines (rule V11): one per `maxShare` of the window declined, past `maxShare`. */
  private declineHalvings(volunteerId: string): number {
    const share = this.declineShare(volunteerId);
    const { maxShare } = this.declines;
    return maxShare < 1 && share > maxShare ? Math.floor(share / maxShare + 1e-9) : 0;
  }

  /** The volunteer declined a task (a failure report, a refused offer, a canary dropped; V11). */
  declined(volunteerId: string): void {
    this.record(volunteerId, 1);
  }

  private record(volunteerId: string, declined: 0 | 1): void {
    const { window } = this.declines;
    const o = this.outcomes.get(volunteerId) ?? { bits: 0, n: 0 };
    const mask = window >= 32 ? 0xffffffff : 2 ** window - 1;
    this.outcomes.set(volunteerId, {
      bits: (((o.bits << 1) | declined) & mask) >>> 0,
      n: Math.min(window, o.n + 1),
    });
  }

  /**
   * An acked lease lapsed: one more halving, up to where the limit is one task (more would only
   * slow the recovery). `wanted` is the limit its slots ask for. Returns the halvings now in force.
   */
  stalled(volunteerId: string, wanted: number): number {
    const most = Math.ceil(Math.log2(Math.max(1, wanted)));
    const halvings = Math.min(most, (this.penalties.get(volunteerId) ?? 0) + 1);
    if (halvings === 0) this.penalties.delete(volunteerId);
    else this.penalties.set(volunteerId, halvings);
    return halvings;
  }

  /**
   * A new identity from a network whose identities stalled starts with that network's halvings
   * (rule V11, issue 17 E): minting a fresh identity does not shed a stall penalty. Its results
   * undo them one by one, as its own would be.
   */
  inherit(volunteerId: string, halvings: number): void {
    if (halvings > (this.penalties.get(volunteerId) ?? 0)) this.penalties.set(volunteerId, halvings);
  }

  /**
   * A result came back: one halving fewer. (Undoing one halving restores at least one slot, and
   * lifts the penalty entirely after as many results as there were stalls.)
   */
  answered(volunteerId: string): void {
    this.record(volunteerId, 0);
    const halvings = this.penalties.get(volunteerId) ?? 0;
    if (halvings <= 1) this.penalties.delete(volunteerId);
    else this.penalties.set(volunteerId, halvings - 1);
  }

  /** Halvings in force (0 = none). */
  penalty(volunteerId: string): number {
    return this.penalties.get(volunteerId) ?? 0;
  }
}
