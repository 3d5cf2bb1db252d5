import type { VolunteerCredits } from '@tabgrid/protocol';
import type { ErrorSink } from '../observability/error-sink';
import type { AssignmentRecord } from '../scheduling/types';
import type { Judgement, SettledResults } from '../verification/verifier';
import { bonusEligible, DEFAULT_CREDIT_POLICY, type CreditPolicy } from './policy';
import type { CreditTotals, EntryRef, LedgerStore } from './types';

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

/**
 * Turns what the scheduler and the verifier decide into ledger entries (PROTOCOL.md rules C1-C3):
 * an accepted result is a provisional entry (granted at once when it is final on arrival); a final judgement grants the agreeing results and
 * revokes the others; a volunteer caught lying loses its provisional entries and the results
 * backtracking revoked. Ledger writes are queued in order and never block the caller: a failure
 * goes to the error sink (the task's outcome does not depend on credit).
 */
export class CreditKeeper {
  private tail: Promise<void> = Promise.resolve();
  private readonly policy: CreditPolicy;
  private board: LeaderRow[] = [];
  private boardReadAt = -Infinity;
  private boardDirty = true;

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
    this.enqueue('ledger.result', async (touched) => {
      const entry = {
        ...ref,
        taskId: assignment.taskId,
        photos: 1,
        quick: now - assignment.assignedAt <= this.policy.quickReturnMs,
        at: now,
      };
      touched.add(ref.volunteerId);
      if (judgement === null) {
        await this.ledger.record(entry, 'granted', 'unverified');
        return;
      }
      // Final on arrival and agreeing (trusted, or the replica that settled its task): it never
      // waited, so it is recorded granted in one step; everything else starts provisional.
      const final = judgement.kind === 'final' ? judgement : null;
      const agrees = final?.settled.agreeing.some((r) => r.assignmentId === ref.assignmentId) ?? false;
      await this.ledger.record(
        entry,
        agrees ? 'granted' : 'provisional',
        agrees ? final!.mark.verification : null,
      );
      if (final) await this.apply(final, now, touched);
    });
  }

  /** A task settled without a fresh volunteer result (the referee's verdict). */
  settled(judgement: Extract<Judgement, { kind: 'final' }>, now: number): void {
    this.enqueue('ledger.settled', (touched) => this.apply(judgement, now, touched));
  }

  /**
   * A volunteer was caught lying: `backtracked` are the results of theirs that backtracking
   * revoked (final on trust alone); every entry still provisional is revoked too.
   */
  caught(volunteerId: string, backtracked: readonly string[], now: number): void {
    this.enqueue('ledger.caught', async (touched) => {
      touched.add(volunteerId);
      for (const assignmentId of backtracked)
        await this.ledger.revoke({ volunteerId, assignmentId }, 'backtracked', now);
      for (const e of await this.ledger.entries(volunteerId))
        if (e.state === 'provisional') await this.ledger.revoke(e, 'quarantined', now);
    });
  }

  /** Backtracking found more of a caught volunteer's results later (on other gateways): revoked. */
  backtracked(volunteerId: string, assignmentIds: readonly string[], now: number): void {
    this.enqueue('ledger.backtracked', async (touched) => {
      touched.add(volunteerId);
      for (const assignmentId of assignmentIds)
        await this.ledger.revoke({ volunteerId, assignmentId }, 'backtracked', now);
    });
  }

  /** Sends a (newly connected) volunteer its totals. */
  sendTo(volunteerId: string): void {
    this.enqueue('ledger.send', (touched) => {
      touched.add(volunteerId);
      return Promise.resolve();
    });
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

  private async apply(
    judgement: Extract<Judgement, { kind: 'final' }>,
    now: number,
    touched: Set<string>,
  ): Promise<void> {
    const { agreeing, rejected }: SettledResults = judgement.settled;
    for (const r of agreeing) {
      touched.add(r.volunteerId);
      await this.ledger.grant(r, judgement.mark.verification, now);
    }
    for (const r of rejected) {
      touched.add(r.volunteerId);
      const ref: EntryRef = { volunteerId: r.volunteerId, assignmentId: r.assignmentId };
      await this.ledger.revoke(ref, r.quarantined ? 'quarantined' : 'wrong', now);
    }
  }

  /** Runs `op` after every earlier one, then tells the volunteers it touched their new totals. */
  private enqueue(where: string, op: (touched: Set<string>) => Promise<void>): void {
    const touched = new Set<string>();
    const run = async () => {
      try {
        await op(touched);
      } finally {
        this.boardDirty = true;
        if (this.options.notify) {
          for (const id of touched) this.options.notify(id, await this.creditsOf(id));
        }
      }
    };
    this.tail = this.tail.then(run).catch((err: unknown) => this.options.errors.report(where, err));
  }
}
