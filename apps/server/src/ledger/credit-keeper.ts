import type { VolunteerCredits } from '@tabgrid/protocol';
import type { ErrorSink } from '../observability/error-sink';
import type { AssignmentRecord } from '../store/records';
import type { Judgement, SettledResults } from '../verification/verifier';
import { appliedBefore } from './ledger-batch-error';
import { bonusEligible, DEFAULT_CREDIT_POLICY, type CreditPolicy } from './policy';
import type { CreditTotals, EntryRef, LedgerOp, LedgerStore } from './types';

export interface CreditKeeperOptions {
  errors: ErrorSink;
  policy?: CreditPolicy;
  /** Sends a volunteer its totals (`volunteer:credits`), if it is connected. */
  notify?: (volunteerId: string, credits: VolunteerCredits) => void;
  /** A volunteer's public display name (the leaderboard never shows ids, rule I7). */
  displayName: (volunteerId: string) => string;
  now: () => number;
  /** How often the cached top 10 is read again at most (ms). */
  leaderboardEveryMs?: number;
}

export interface LeaderRow {
  displayName: string;
  credits: number;
}

/** The wire shape of a volunteer's totals (rule C1). */
export function creditsView(t: CreditTotals, policy: CreditPolicy): VolunteerCredits {
  return {
    today: t.today,
    total: t.total,
    quickBonus: bonusEligible(t.grantedCount, t.revokedCount, policy),
  };
}

/** Queued ledger writes of one caller's decision, and the volunteers they concern. */
interface Pending {
  where: string;
  ops: LedgerOp[];
  touched: string[];
}

/**
 * Turns what the scheduler and the verifier decide into ledger entries (PROTOCOL.md rules C1-C3):
 * an accepted result is a provisional entry (granted at once when it is final on arrival); a final
 * judgement grants the agreeing results and revokes the others; a volunteer caught lying loses
 * every entry, granted or provisional.
 *
 * Ledger writes never block the caller. They are queued in order and written once per event-loop
 * turn, all of that turn's writes in one `applyAll` (one SQLite transaction: a commit costs more
 * than the rows it carries). What a failed batch did not write is applied again decision by
 * decision (never what it did write: see `write`); a decision that still fails goes to the error
 * sink (the task's outcome does not depend on credit). Writes still queued when the process
 * dies are rebuilt at start-up from the stored results (`recoverLedger`, SQLite).
 */
export class CreditKeeper {
  private tail: Promise<void> = Promise.resolve();
  private readonly policy: CreditPolicy;
  private board: LeaderRow[] = [];
  private boardReadAt = -Infinity;
  private boardDirty = true;
  /** Decisions waiting for the next batch (null: no batch scheduled). */
  private queued: Pending[] | null = null;

  constructor(
    /** The store itself (tests and audits read entries and recompute totals from it). */
    readonly ledger: LedgerStore,
    private readonly options: CreditKeeperOptions,
  ) {
    this.policy = options.policy ?? DEFAULT_CREDIT_POLICY;
  }

  /** A result was accepted: provisional until verified; granted at once when verification is off. */
  resultAccepted(assignment: AssignmentRecord, judgement: Judgement | null, now: number): void {
    const ref = { volunteerId: assignment.volunteerId, assignmentId: assignment.id };
    const entry = {
      ...ref,
      taskId: assignment.taskId,
      photos: 1,
      quick: now - assignment.assignedAt <= this.policy.quickReturnMs,
      at: now,
    };
    if (judgement === null) {
      this.enqueue(
        'ledger.result',
        [{ kind: 'record', entry, state: 'granted', reason: 'unverified' }],
        [ref.volunteerId],
      );
      return;
    }
    // Final on arrival and agreeing (trusted, or the replica that settled its task): it never
    // waited, so it is recorded granted in one step; everything else starts provisional.
    const final = judgement.kind === 'final' ? judgement : null;
    const agrees = final?.settled.agreeing.some((r) => r.assignmentId === ref.assignmentId) ?? false;
    const ops: LedgerOp[] = [
      {
        kind: 'record',
        entry,
        state: agrees ? 'granted' : 'provisional',
        reason: agrees ? final!.mark.verification : null,
      },
    ];
    const touched = [ref.volunteerId];
    if (final) this.settlement(final, now, ops, touched);
    this.enqueue('ledger.result', ops, touched);
  }

  /** A task settled without a fresh volunteer result (the referee's verdict). */
  settled(judgement: Extract<Judgement, { kind: 'final' }>, now: number): void {
    const ops: LedgerOp[] = [];
    const touched: string[] = [];
    this.settlement(judgement, now, ops, touched);
    this.enqueue('ledger.settled', ops, touched);
  }

  /**
   * A volunteer was caught lying (rule C2): it keeps nothing. `backtracked` are its published
   * results that backtracking reopened (revoked as `backtracked`); every other entry of its,
   * granted or provisional, is revoked too (`quarantined`): a result it only agreed with stays
   * published on another's word, but no longer earns it anything.
   */
  caught(volunteerId: string, backtracked: readonly string[], now: number): void {
    const ops = revokeBacktracked(volunteerId, backtracked, now);
    ops.push({ kind: 'revokeAll', volunteerId, reason: 'quarantined', at: now });
    this.enqueue('ledger.caught', ops, [volunteerId]);
  }

  /**
   * Backtracking found more of a caught volunteer's results later (on other gateways): revoked,
   * with whatever entry was recorded since `caught` (a result in flight on another gateway).
   */
  backtracked(volunteerId: string, assignmentIds: readonly string[], now: number): void {
    const ops = revokeBacktracked(volunteerId, assignmentIds, now);
    ops.push({ kind: 'revokeAll', volunteerId, reason: 'quarantined', at: now });
    this.enqueue('ledger.backtracked', ops, [volunteerId]);
  }

  /** Sends a (newly connected) volunteer its totals. */
  sendTo(volunteerId: string): void {
    this.enqueue('ledger.send', [], [volunteerId]);
  }

  /** A volunteer's totals in their wire shape. */
  async creditsOf(volunteerId: string): Promise<VolunteerCredits> {
    return creditsView(await this.ledger.totals(volunteerId, this.options.now()), this.policy);
  }

  /**
   * The top 10 by granted credits, by display name, for `live:stats` (rule L8). Synchronous: the
   * cached list, read again in the background at most every `leaderboardEveryMs` after a change.
   */
  leaderboard(): LeaderRow[] {
    const every = this.options.leaderboardEveryMs ?? 1000;
    // Throttled on the monotonic wall clock: a test's manual clock may stand still.
    if (this.boardDirty && performance.now() - this.boardReadAt >= every) {
      this.boardDirty = false;
      this.boardReadAt = performance.now();
      this.options.errors.watch(
        'ledger.leaderboard',
        this.ledger.leaderboard(10).then((rows) => {
          this.board = rows.map((r) => ({
            displayName: this.options.displayName(r.volunteerId),
            credits: r.granted,
          }));
        }),
      );
    }
    return this.board;
  }

  /** Resolves once every queued ledger write so far has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }

  /** The grants and revocations of a final judgement. */
  private settlement(
    judgement: Extract<Judgement, { kind: 'final' }>,
    now: number,
    ops: LedgerOp[],
    touched: string[],
  ): void {
    const { agreeing, rejected }: SettledResults = judgement.settled;
    for (const r of agreeing) {
      touched.push(r.volunteerId);
      const ref: EntryRef = { volunteerId: r.volunteerId, assignmentId: r.assignmentId };
      ops.push({ kind: 'grant', ref, reason: judgement.mark.verification, at: now });
    }
    for (const r of rejected) {
      touched.push(r.volunteerId);
      const ref: EntryRef = { volunteerId: r.volunteerId, assignmentId: r.assignmentId };
      ops.push({ kind: 'revoke', ref, reason: r.quarantined ? 'quarantined' : 'wrong', at: now });
    }
  }

  /** Queues one decision's writes; the first one of a turn schedules the batch after every earlier one. */
  private enqueue(where: string, ops: LedgerOp[], touched: string[]): void {
    if (this.queued) {
      this.queued.push({ where, ops, touched });
      return;
    }
    const batch: Pending[] = [{ where, ops, touched }];
    this.queued = batch;
    // setImmediate: the batch takes every decision of this event-loop turn (all the results that
    // arrived in one poll phase), not just those of one callback.
    this.tail = this.tail
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        if (this.queued === batch) this.queued = null;
        return this.write(batch);
      })
      .catch((err: unknown) => this.options.errors.report(where, err));
  }

  /**
   * Writes one batch, then tells the volunteers. If it fails, the ops that did not take effect
   * (all of them on SQLite, which rolls back; those after `done` on Redis) are applied again
   * decision by decision, so one failing decision does not take the others with it, and no op
   * that took effect is applied twice.
   */
  private async write(batch: Pending[]): Promise<void> {
    const all = batch.flatMap((p) => p.ops);
    let applied = all.length;
    try {
      if (all.length > 0) await this.ledger.applyAll(all);
    } catch (err) {
      applied = appliedBefore(err);
    }
    if (applied < all.length) {
      let skip = applied;
      for (const p of batch) {
        const rest = p.ops.slice(Math.min(skip, p.ops.length));
        skip = Math.max(0, skip - p.ops.length);
        if (rest.length === 0) continue;
        try {
          await this.ledger.applyAll(rest);
        } catch (err) {
          this.options.errors.report(p.where, err);
        }
      }
    }
    this.boardDirty = true;
    const notify = this.options.notify;
    if (!notify) return;
    for (const id of new Set(batch.flatMap((p) => p.touched))) {
      try {
        notify(id, await this.creditsOf(id));
      } catch (err) {
        this.options.errors.report('ledger.notify', err);
      }
    }
  }
}

/** The revocations of results backtracking revoked. */
function revokeBacktracked(volunteerId: string, assignmentIds: readonly string[], now: number): LedgerOp[] {
  return assignmentIds.map((assignmentId) => ({
    kind: 'revoke',
    ref: { volunteerId, assignmentId },
    reason: 'backtracked',
    at: now,
  }));
}
