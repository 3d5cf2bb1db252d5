import { VERDICT_OUTCOMES, type AssignmentRecord, type Settlement, type TaskRecord } from '../records';
import type { LeaseMemory } from './lease-memory';
import { toTask, type TaskRow } from './rows';
import type { Statements } from './statements';
import type { Transactions } from './transactions';

/**
 * Where the live leases in memory meet the SQLite rows: a task's row as the scheduler sees it
 * (running while a live lease holds it), and an assignment's row written once, as it ends.
 */
export class LeaseRows {
  constructor(
    private readonly s: Pick<Statements, 'insertEnded' | 'countAttempt' | 'markVerdict'>,
    private readonly txs: Transactions,
    private readonly leases: LeaseMemory,
  ) {}

  /** A task's row with its live leases: `running`, and each lease an attempt not written yet. */
  task(row: TaskRow): TaskRecord {
    const task = toTask(row);
    const live = this.leases.countForTask(row.id);
    if (live === 0) return task;
    const status = task.status === 'queued' ? 'running' : task.status;
    return { ...task, status, attempts: task.attempts + live };
  }

  /**
   * Inside a transaction: a settlement's verdicts on completed results, kept in their rows'
   * `outcome` for crash recovery of their credit (ledger/sqlite-ledger-recovery.ts).
   */
  verdicts(settlement: Settlement): void {
    for (const id of settlement.agreeing ?? []) this.s.markVerdict.run(VERDICT_OUTCOMES.agreed, id);
    for (const r of settlement.rejected ?? [])
      this.s.markVerdict.run(
        r.quarantined ? VERDICT_OUTCOMES.quarantined : VERDICT_OUTCOMES.wrong,
        r.assignmentId,
      );
  }

  /**
   * Inside a transaction: writes a live lease's row as it ends (and counts its attempt in the
   * task's row), and drops it from memory at once for the rest of the transaction — restored if
   * the transaction (or the savepoint) rolls back.
   */
  end(
    a: AssignmentRecord,
    status: AssignmentRecord['status'],
    now: number,
    outcome: string | null,
    inferenceMs: number | null,
  ): AssignmentRecord {
    const ended: AssignmentRecord = { ...a, status, endedAt: now, outcome, inferenceMs };
    this.s.insertEnded.run(
      a.id,
      a.taskId,
      a.volunteerId,
      status,
      a.assignedAt,
      a.ackedAt,
      a.leaseExpiresAt,
      now,
      outcome,
      inferenceMs,
    );
    this.s.countAttempt.run(a.taskId);
    const jobId = this.leases.jobOf(a.taskId)!;
    this.txs.now(
      () => this.leases.remove(a.id),
      () => this.leases.add(a, jobId),
    );
    return ended;
  }
}
