import type { Db } from '../storage/database';
import {
  bonusEligible,
  canMove,
  dayOf,
  DEFAULT_CREDIT_POLICY,
  emptyTotals,
  foldTotals,
  type CreditPolicy,
} from './policy';
import type {
  CreditReason,
  CreditState,
  CreditTotals,
  EntryRef,
  LeaderboardRow,
  LedgerEntry,
  LedgerEvent,
  LedgerOp,
  LedgerStore,
  NewEntry,
  RecordOutcome,
} from './types';

interface EntryRow {
  assignment_id: string;
  volunteer_id: string;
  task_id: string;
  base: number;
  bonus: number;
  day: number;
  at: number;
}

interface TotalsRow {
  pending: number;
  granted: number;
  revoked: number;
  granted_count: number;
  revoked_count: number;
}

/** Runs a synchronous database call as a promise: a throw becomes a rejection, as on Redis. */
function promised<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** How one state change moves the aggregates. */
interface Delta {
  pending: number;
  granted: number;
  revoked: number;
  grantedCount: number;
  revokedCount: number;
}

/** The aggregate change for `credits` moving from `from` (null: a new entry) to `to`. */
export function deltaOf(from: CreditState | null, to: CreditState, credits: number): Delta {
  const d: Delta = { pending: 0, granted: 0, revoked: 0, grantedCount: 0, revokedCount: 0 };
  const move = (s: CreditState, sign: 1 | -1) => {
    if (s === 'provisional') d.pending += sign * credits;
    else if (s === 'granted') {
      d.granted += sign * credits;
      d.grantedCount += sign;
    } else {
      d.revoked += sign * credits;
      d.revokedCount += sign;
    }
  };
  if (from) move(from, -1);
  move(to, 1);
  return d;
}

/**
 * The ledger in SQLite (migration 7). Each call is one transaction: the entry or event is appended
 * and the aggregates (`credit_totals`, `credit_daily`) move with it, or nothing happens.
 * `applyAll` runs many such changes in one transaction (one commit), which is how `CreditKeeper`
 * writes: a commit costs more than the rows it carries.
 */
export class SqliteLedgerStore implements LedgerStore {
  private readonly s;
  /** The transactions, built once (better-sqlite3 builds a wrapper per `transaction()` call). */
  private readonly tx;

  constructor(
    private readonly db: Db,
    private readonly policy: CreditPolicy = DEFAULT_CREDIT_POLICY,
    /**
     * The scheduling store's group commit (`SchedulerStore.staged`): `applyAll` then joins the
     * next turn's one transaction, with that turn's results, instead of committing on its own.
     */
    private readonly stage?: <T>(fn: () => T) => Promise<T>,
  ) {
    this.s = {
      entry: db.prepare<[string], EntryRow>('SELECT * FROM credit_entries WHERE assignment_id = ?'),
      state: db.prepare<[string], { state: CreditState }>(
        'SELECT state FROM credit_events WHERE assignment_id = ? ORDER BY seq DESC LIMIT 1',
      ),
      insertEntry: db.prepare(
        `INSERT OR IGNORE INTO credit_entries (assignment_id, volunteer_id, task_id, base, bonus, day, at)
         VALUES (@assignmentId, @volunteerId, @taskId, @base, @bonus, @day, @at)`,
      ),
      insertEvent: db.prepare(
        `INSERT INTO credit_events (assignment_id, volunteer_id, state, reason, at) VALUES (?, ?, ?, ?, ?)`,
      ),
      totals: db.prepare<[string], TotalsRow>('SELECT * FROM credit_totals WHERE volunteer_id = ?'),
      // A volunteer's totals with its day's, in one statement (read after every ledger turn, C1).
      totalsOn: db.prepare<
        [number, string],
        TotalsRow & { day_pending: number | null; day_granted: number | null }
      >(
        `SELECT t.*, d.pending AS day_pending, d.granted AS day_granted FROM credit_totals t
           LEFT JOIN credit_daily d ON d.volunteer_id = t.volunteer_id AND d.day = ? WHERE t.volunteer_id = ?`,
      ),
      addTotals: db.prepare(
        `INSERT INTO credit_totals (volunteer_id, pending, granted, revoked, granted_count, revoked_count)
         VALUES (@volunteerId, @pending, @granted, @revoked, @grantedCount, @revokedCount)
         ON CONFLICT(volunteer_id) DO UPDATE SET pending = pending + excluded.pending,
           granted = granted + excluded.granted, revoked = revoked + excluded.revoked,
           granted_count = granted_count + excluded.granted_count,
           revoked_count = revoked_count + excluded.revoked_count`,
      ),
      addDaily: db.prepare(
        `INSERT INTO credit_daily (volunteer_id, day, pending, granted) VALUES (@volunteerId, @day, @pending, @granted)
         ON CONFLICT(volunteer_id, day) DO UPDATE SET pending = pending + excluded.pending,
           granted = granted + excluded.granted`,
      ),
      entriesOf: db.prepare<[string], EntryRow>(
        'SELECT * FROM credit_entries WHERE volunteer_id = ? ORDER BY at, rowid',
      ),
      eventsOf: db.prepare<
        [string],
        { assignment_id: string; state: CreditState; reason: string | null; at: number }
      >('SELECT assignment_id, state, reason, at FROM credit_events WHERE volunteer_id = ? ORDER BY seq'),
      board: db.prepare<[number], { volunteer_id: string; granted: number }>(
        'SELECT volunteer_id, granted FROM credit_totals WHERE granted > 0 ORDER BY granted DESC LIMIT ?',
      ),
    };
    this.tx = {
      record: db.transaction(
        (entry: NewEntry, state: 'provisional' | 'granted', reason: CreditReason | null) =>
          this.recordNow(entry, state, reason),
      ),
      move: db.transaction((ref: EntryRef, to: CreditState, reason: CreditReason, at: number) =>
        this.moveNow(ref, to, reason, at),
      ),
      all: db.transaction((ops: readonly LedgerOp[]) => {
        for (const op of ops) this.applyNow(op);
      }),
    };
  }

  record(
    entry: NewEntry,
    state: 'provisional' | 'granted',
    reason: CreditReason | null,
  ): Promise<RecordOutcome> {
    return promised(() => this.tx.record(entry, state, reason));
  }

  grant(ref: EntryRef, reason: CreditReason, at: number): Promise<boolean> {
    return promised(() => this.tx.move(ref, 'granted', reason, at));
  }

  revoke(ref: EntryRef, reason: CreditReason, at: number): Promise<boolean> {
    return promised(() => this.tx.move(ref, 'revoked', reason, at));
  }

  /** Every op in one transaction: all of them are committed, or (on a throw) none. */
  applyAll(ops: readonly LedgerOp[]): Promise<void> {
    if (this.stage) return this.stage(() => this.tx.all(ops));
    return promised(() => this.tx.all(ops));
  }

  private applyNow(op: LedgerOp): void {
    switch (op.kind) {
      case 'record':
        this.recordNow(op.entry, op.state, op.reason);
        break;
      case 'grant':
        this.moveNow(op.ref, 'granted', op.reason, op.at);
        break;
      case 'revoke':
        this.moveNow(op.ref, 'revoked', op.reason, op.at);
        break;
      case 'revokeProvisional':
      case 'revokeAll':
        for (const e of this.s.entriesOf.all(op.volunteerId)) {
          const state = this.s.state.get(e.assignment_id)?.state;
          if (state !== 'provisional' && (op.kind === 'revokeProvisional' || state !== 'granted')) continue;
          this.moveNow(
            { volunteerId: e.volunteer_id, assignmentId: e.assignment_id },
            'revoked',
            op.reason,
            op.at,
          );
        }
        break;
    }
  }

  /** Inside a transaction: the entry, its first event and the aggregates. */
  private recordNow(
    entry: NewEntry,
    state: 'provisional' | 'granted',
    reason: CreditReason | null,
  ): RecordOutcome {
    const counts = this.s.totals.get(entry.volunteerId);
    const eligible = bonusEligible(counts?.granted_count ?? 0, counts?.revoked_count ?? 0, this.policy);
    const base = entry.photos * this.policy.creditsPerPhoto;
    const bonus = entry.quick && eligible ? entry.photos * this.policy.bonusPerPhoto : 0;
    const day = dayOf(entry.at);
    // OR IGNORE on the primary key: a repeat changes nothing and is reported as such.
    if (this.s.insertEntry.run({ ...entry, base, bonus, day }).changes === 0) {
      return { recorded: false, bonus: 0 };
    }
    this.s.insertEvent.run(entry.assignmentId, entry.volunteerId, state, reason, entry.at);
    this.apply(entry.volunteerId, day, deltaOf(null, state, base + bonus));
    return { recorded: true, bonus };
  }

  /** Inside a transaction: a legal state change, or nothing. */
  private moveNow(ref: EntryRef, to: CreditState, reason: CreditReason, at: number): boolean {
    const entry = this.s.entry.get(ref.assignmentId);
    if (!entry || entry.volunteer_id !== ref.volunteerId) return false;
    const from = this.s.state.get(ref.assignmentId)?.state;
    if (!from || !canMove(from, to)) return false;
    this.s.insertEvent.run(ref.assignmentId, ref.volunteerId, to, reason, at);
    this.apply(ref.volunteerId, entry.day, deltaOf(from, to, entry.base + entry.bonus));
    return true;
  }

  private apply(volunteerId: string, day: number, d: Delta): void {
    this.s.addTotals.run({ volunteerId, ...d });
    this.s.addDaily.run({ volunteerId, day, pending: d.pending, granted: d.granted });
  }

  totals(volunteerId: string, now: number): Promise<CreditTotals> {
    return promised(() => this.totalsNow(volunteerId, now));
  }

  private totalsNow(volunteerId: string, now: number): CreditTotals {
    const day = dayOf(now);
    const t = this.s.totalsOn.get(day, volunteerId);
    if (!t) return emptyTotals(day);
    return {
      day,
      today: { pending: t.day_pending ?? 0, granted: t.day_granted ?? 0 },
      total: { pending: t.pending, granted: t.granted, revoked: t.revoked },
      grantedCount: t.granted_count,
      revokedCount: t.revoked_count,
    };
  }

  async recompute(volunteerId: string, now: number): Promise<CreditTotals> {
    return foldTotals(await this.entries(volunteerId), await this.events(volunteerId), now);
  }

  entries(volunteerId: string): Promise<LedgerEntry[]> {
    return promised(() =>
      this.s.entriesOf.all(volunteerId).map((r) => ({
        assignmentId: r.assignment_id,
        volunteerId: r.volunteer_id,
        taskId: r.task_id,
        base: r.base,
        bonus: r.bonus,
        day: r.day,
        at: r.at,
        state: this.s.state.get(r.assignment_id)!.state,
      })),
    );
  }

  events(volunteerId: string): Promise<LedgerEvent[]> {
    return promised(() =>
      this.s.eventsOf.all(volunteerId).map((r) => ({
        assignmentId: r.assignment_id,
        state: r.state,
        reason: r.reason as CreditReason | null,
        at: r.at,
      })),
    );
  }

  leaderboard(limit: number): Promise<LeaderboardRow[]> {
    return promised(() =>
      this.s.board.all(limit).map((r) => ({ volunteerId: r.volunteer_id, granted: r.granted })),
    );
  }
}
