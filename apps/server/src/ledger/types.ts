/**
 * The credit ledger's shapes (docs/SECURITY.md "Credits"). A ledger is append-only: an entry is
 * written once per assignment, and each change of its state is a new event; an entry's current
 * state is its latest event. Totals are a maintained aggregate that `recompute` rebuilds from the
 * entries and events alone.
 */

/** An entry's state: waiting for verification, verified, or taken back. */
export type CreditState = 'provisional' | 'granted' | 'revoked';

/**
 * Why an entry changed state. Granted: how the result was verified (`trusted`, `replicated`,
 * `refereed`, `spot-checked`) or `unverified` (verification off). Revoked: `wrong` (outvoted or
 * refereed wrong), `quarantined` (its sender was caught lying: every other entry of its, granted
 * or pending, rule C2), `backtracked` (a published result of its sender, reopened when it was
 * caught, rule V7).
 */
export type CreditReason =
  | 'trusted'
  | 'replicated'
  | 'refereed'
  | 'spot-checked'
  | 'unverified'
  | 'wrong'
  | 'quarantined'
  | 'backtracked';

/** Names one entry: the volunteer is part of the key (Redis keeps a volunteer's keys together). */
export interface EntryRef {
  volunteerId: string;
  assignmentId: string;
}

/** A new entry: one validated result of one assignment. */
export interface NewEntry extends EntryRef {
  taskId: string;
  /** Photos the result covers (one per task today). */
  photos: number;
  /** Returned within the quick-return window (the bonus also needs a good verified-return rate). */
  quick: boolean;
  /** When the result was accepted (ms since the epoch); its UTC day is the entry's day. */
  at: number;
}

/** One entry as stored, with its derived current state. */
export interface LedgerEntry extends EntryRef {
  taskId: string;
  /** Credits for the work itself. */
  base: number;
  /** Quick-return bonus credits (0 when not earned). */
  bonus: number;
  /** UTC day number (ms / 86,400,000) of `at`. */
  day: number;
  at: number;
  state: CreditState;
}

/** One state change, in append order. */
export interface LedgerEvent {
  assignmentId: string;
  state: CreditState;
  reason: CreditReason | null;
  at: number;
}

/** A volunteer's totals, in credits. `today` is the UTC day `day`. */
export interface CreditTotals {
  day: number;
  today: { pending: number; granted: number };
  total: { pending: number; granted: number; revoked: number };
  /** Entries granted / revoked now (the quick-return bonus's verified-return rate). */
  grantedCount: number;
  revokedCount: number;
}

export interface RecordOutcome {
  /** False when this assignment already had an entry (a repeat is a no-op). */
  recorded: boolean;
  /** The bonus credits the entry got (0 on a repeat). */
  bonus: number;
}

/**
 * One ledger write as data, for `LedgerStore.applyAll`: what `record`, `grant` and `revoke` do,
 * or `revokeProvisional` — revoke every entry of a volunteer that is provisional when the op runs —
 * or `revokeAll` — revoke every entry of a volunteer that is provisional or granted when the op
 * runs (a caught liar keeps nothing, rule C2). Every op is idempotent: applying it again after it took effect appends nothing
 * (an entry is written once; states only move forward, provisional → granted → revoked).
 */
export type LedgerOp =
  | { kind: 'record'; entry: NewEntry; state: 'provisional' | 'granted'; reason: CreditReason | null }
  | { kind: 'grant'; ref: EntryRef; reason: CreditReason; at: number }
  | { kind: 'revoke'; ref: EntryRef; reason: CreditReason; at: number }
  | { kind: 'revokeProvisional'; volunteerId: string; reason: CreditReason; at: number }
  | { kind: 'revokeAll'; volunteerId: string; reason: CreditReason; at: number };

export interface LeaderboardRow {
  volunteerId: string;
  granted: number;
}

/**
 * Where the ledger lives: SQLite (one process) or Redis (scale-out). Both are tested by one
 * contract suite (ledger-contract.test.ts). Methods are async because the Redis store is; the
 * SQLite one answers with resolved promises.
 */
export interface LedgerStore {
  /**
   * Appends a new entry in state `state` (`provisional` pending verification, or `granted` at
   * once). Idempotent per assignment. The quick-return bonus is decided here, atomically with the
   * volunteer's counts (policy.ts).
   */
  record(
    entry: NewEntry,
    state: 'provisional' | 'granted',
    reason: CreditReason | null,
  ): Promise<RecordOutcome>;
  /** provisional -> granted. False (nothing appended) from any other state or for no entry. */
  grant(ref: EntryRef, reason: CreditReason, at: number): Promise<boolean>;
  /** provisional or granted -> revoked. False (nothing appended) when revoked already or no entry. */
  revoke(ref: EntryRef, reason: CreditReason, at: number): Promise<boolean>;
  /**
   * Applies `ops` in order, each exactly as its single call would. SQLite commits them as one
   * transaction (all or none: one commit for many writes); Redis runs them one by one. A batch
   * that failed may be applied again whole: ops that had taken effect are no-ops the second time.
   */
  applyAll(ops: readonly LedgerOp[]): Promise<void>;
  /** The maintained totals (cheap: one aggregate read). */
  totals(volunteerId: string, now: number): Promise<CreditTotals>;
  /** The same totals folded from the entries and events alone (audits and tests). */
  recompute(volunteerId: string, now: number): Promise<CreditTotals>;
  /** A volunteer's entries with their current state, oldest first. */
  entries(volunteerId: string): Promise<LedgerEntry[]>;
  /** A volunteer's state changes, in append order. */
  events(volunteerId: string): Promise<LedgerEvent[]>;
  /** The top `limit` volunteers by granted credits (ties: any order). Volunteers with 0 are left out. */
  leaderboard(limit: number): Promise<LeaderboardRow[]>;
}
