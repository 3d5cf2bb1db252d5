import type { Db } from '../storage/database';
import type { CreditPolicy } from './policy';
import type { CreditReason, LedgerOp, LedgerStore } from './types';

interface MissingRow {
  id: string;
  volunteer_id: string;
  task_id: string;
  assigned_at: number;
  ended_at: number;
  task_status: string;
  result_assignment_id: string | null;
  verification: CreditReason | null;
}

/**
 * Start-up, SQLite: the ledger entries of accepted results that were still queued in
 * `CreditKeeper` when the process died (it writes once per event-loop turn, after the result's
 * commit and ack). Every assignment the scheduling store holds as `completed` is an accepted result
 * (rule C2), so each one without an entry gets it now, as `CreditKeeper.resultAccepted` would
 * have written it: granted (`unverified`) with verification off; with verification on, granted
 * with the task's mark when it is the task's final result, otherwise provisional (verifications
 * pending at a restart are lost anyway: docs/SECURITY.md "Credits", known limits). The write
 * is `record`, idempotent per assignment, so running this twice adds nothing.
 *
 * Returns how many entries were written.
 */
export async function recoverLedger(
  db: Db,
  ledger: LedgerStore,
  policy: CreditPolicy,
  verification: boolean,
): Promise<number> {
  const missing = db
    .prepare<[], MissingRow>(
      `SELECT a.id, a.volunteer_id, a.task_id, a.assigned_at, a.ended_at, t.status AS task_status,
         t.result_assignment_id, t.verification
       FROM assignments a JOIN tasks t ON t.id = a.task_id
       WHERE a.status = 'completed'
         AND NOT EXISTS (SELECT 1 FROM credit_entries c WHERE c.assignment_id = a.id)
       ORDER BY a.ended_at, a.rowid`,
    )
    .all();
  const ops: LedgerOp[] = missing.map((a) => {
    const final = !verification || (a.task_status === 'done' && a.result_assignment_id === a.id);
    const reason: CreditReason | null = verification ? (final ? a.verification : null) : 'unverified';
    return {
      kind: 'record',
      entry: {
        volunteerId: a.volunteer_id,
        assignmentId: a.id,
        taskId: a.task_id,
        photos: 1,
        quick: a.ended_at - a.assigned_at <= policy.quickReturnMs,
        at: a.ended_at,
      },
      state: final && reason !== null ? 'granted' : 'provisional',
      reason,
    };
  });
  if (ops.length > 0) await ledger.applyAll(ops);
  return ops.length;
}
