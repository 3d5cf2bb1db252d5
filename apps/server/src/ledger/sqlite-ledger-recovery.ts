import type { Db } from '../storage/database';
import { VERDICT_OUTCOMES } from '../store/records';
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
  /** A settlement's verdict on this result (`VERDICT_OUTCOMES`), or null. */
  verdict: string | null;
  completed_at: number | null;
}

const VERDICTS = Object.values(VERDICT_OUTCOMES)
  .map((v) => `'${v}'`)
  .join(', ');

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
 * A result a settlement judged without publishing it (one that agreed with the referee, or that
 * it rejected: `Settlement` in store/records.ts, kept as the assignment's `outcome`) is then granted
 * or revoked as `CreditKeeper.settled` would have, whether its entry was missing or is still
 * provisional because the settlement's batch was lost. Legal moves only, so this adds nothing
 * the second time either.
 *
 * Returns how many entries were written.
 */
export async function recoverLedger(
  db: Db,
  ledger: LedgerStore,
  policy: CreditPolicy,
  verification: boolean,
): Promise<number> {
  const columns = `a.id, a.volunteer_id, a.task_id, a.assigned_at, a.ended_at, t.status AS task_status,
         t.result_assignment_id, t.verification, a.outcome AS verdict, t.completed_at
       FROM assignments a JOIN tasks t ON t.id = a.task_id`;
  const missing = db
    .prepare<[], MissingRow>(
      `SELECT ${columns}
       WHERE a.status = 'completed'
         AND NOT EXISTS (SELECT 1 FROM credit_entries c WHERE c.assignment_id = a.id)
       ORDER BY a.ended_at, a.rowid`,
    )
    .all();
  // Judged results whose entry is still provisional: the settlement's grant or revoke was lost.
  const undecided = verification
    ? db
        .prepare<[], MissingRow>(
          `SELECT ${columns}
           WHERE a.status = 'completed' AND a.outcome IN (${VERDICTS})
             AND (SELECT e.state FROM credit_events e WHERE e.assignment_id = a.id
                  ORDER BY e.seq DESC LIMIT 1) = 'provisional'
           ORDER BY a.ended_at, a.rowid`,
        )
        .all()
    : [];
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
  if (verification)
    for (const a of [...missing, ...undecided]) {
      const op = verdictOp(a);
      if (op) ops.push(op);
    }
  if (ops.length > 0) await ledger.applyAll(ops);
  return missing.length;
}

/** The grant or revoke `CreditKeeper.settled` makes for a judged result that was not published. */
function verdictOp(a: MissingRow): LedgerOp | null {
  if (a.result_assignment_id === a.id) return null; // published: recorded final above
  const ref = { volunteerId: a.volunteer_id, assignmentId: a.id };
  const at = a.completed_at ?? a.ended_at;
  if (a.verdict === VERDICT_OUTCOMES.agreed)
    return a.task_status === 'done' && a.verification !== null
      ? { kind: 'grant', ref, reason: a.verification, at }
      : null;
  if (a.verdict === VERDICT_OUTCOMES.wrong) return { kind: 'revoke', ref, reason: 'wrong', at };
  if (a.verdict === VERDICT_OUTCOMES.quarantined) return { kind: 'revoke', ref, reason: 'quarantined', at };
  return null;
}
