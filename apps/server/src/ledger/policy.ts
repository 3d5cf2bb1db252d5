import type { CreditState, CreditTotals, LedgerEntry, LedgerEvent } from './types';

/**
 * The credit unit and the quick-return bonus (docs/SECURITY.md "Credits").
 *
 * Every photo is letterboxed to the model's input (416x416) before inference, so every photo is
 * the same work: 10 credits per photo. Integers throughout, so that totals add up exactly and
 * recompute to the same figures on SQLite and Redis.
 */
export interface CreditPolicy {
  /** Credits per photo inferred at the model's input size. */
  creditsPerPhoto: number;
  /** Extra credits per photo for a quick return by an eligible volunteer. */
  bonusPerPhoto: number;
  /** A result is quick when it comes back within this long of its assignment (ms). */
  quickReturnMs: number;
  /** Folding@home: at least this many results verified (entries granted now)… */
  bonusMinGranted: number;
  /** …and at least this share of settled entries granted (granted / (granted + revoked)). */
  bonusMinRate: number;
}

export const DEFAULT_CREDIT_POLICY: CreditPolicy = {
  creditsPerPhoto: 10,
  bonusPerPhoto: 5,
  quickReturnMs: 60_000,
  bonusMinGranted: 10,
  bonusMinRate: 0.8,
};

/** The quick-return window: a tenth of the assignment cap (the deadline a volunteer works against). */
export function quickReturnMsFor(maxAssignmentMs: number): number {
  return Math.max(1000, Math.floor(maxAssignmentMs / 10));
}

/** The policy a server runs with: the defaults, with the quick-return window of its assignment cap. */
export function creditPolicyFor(maxAssignmentMs: number): CreditPolicy {
  return { ...DEFAULT_CREDIT_POLICY, quickReturnMs: quickReturnMsFor(maxAssignmentMs) };
}

export const DAY_MS = 86_400_000;
export const dayOf = (at: number): number => Math.floor(at / DAY_MS);

/** Whether a volunteer with these counts earns the bonus on a quick result (F@H's rule). */
export function bonusEligible(grantedCount: number, revokedCount: number, policy: CreditPolicy): boolean {
  const settled = grantedCount + revokedCount;
  return grantedCount >= policy.bonusMinGranted && grantedCount >= policy.bonusMinRate * settled;
}

/** Legal state changes: provisional -> granted | revoked, granted -> revoked. Revoked is final. */
export function canMove(from: CreditState, to: CreditState): boolean {
  return (from === 'provisional' && to !== 'provisional') || (from === 'granted' && to === 'revoked');
}

export const emptyTotals = (day: number): CreditTotals => ({
  day,
  today: { pending: 0, granted: 0 },
  total: { pending: 0, granted: 0, revoked: 0 },
  grantedCount: 0,
  revokedCount: 0,
});

/**
 * Folds entries and their events into totals: the definition the maintained aggregates must
 * always equal. An entry's state is its latest event; an event that is not a legal move from the
 * state before it is ignored (the stores never append one).
 */
export function foldTotals(
  entries: readonly Omit<LedgerEntry, 'state'>[],
  events: readonly LedgerEvent[],
  now: number,
): CreditTotals {
  const state = new Map<string, CreditState>();
  for (const e of events) {
    const from = state.get(e.assignmentId);
    if (from === undefined || canMove(from, e.state)) state.set(e.assignmentId, e.state);
  }
  const t = emptyTotals(dayOf(now));
  for (const e of entries) {
    const credits = e.base + e.bonus;
    const s = state.get(e.assignmentId);
    const today = e.day === t.day;
    if (s === 'provisional') {
      t.total.pending += credits;
      if (today) t.today.pending += credits;
    } else if (s === 'granted') {
      t.total.granted += credits;
      t.grantedCount++;
      if (today) t.today.granted += credits;
    } else if (s === 'revoked') {
      t.total.revoked += credits;
      t.revokedCount++;
    }
  }
  return t;
}
