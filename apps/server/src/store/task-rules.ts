import type { ErrorCode } from '@tabgrid/protocol';
import type {
  AssignmentRecord,
  AssignmentStatus,
  CompleteOutcome,
  RetryPolicy,
  TaskRecord,
  VerificationMark,
} from './records';

/**
 * The task lifecycle's decisions, pure, in one place: both backends (`sqlite/`, `redis/`) apply
 * them to their own records, so a rule changes here once (ARCHITECTURE.md, "Life of a task").
 */

/** Why a task failed: the `errorCode` and `errorMessage` it is stored with. */
export interface TaskFailure {
  code: ErrorCode;
  message: string;
}

/** A new offer's assignment, as both stores build it (its lease: the offer timeout). */
export function offeredAssignment(
  id: string,
  taskId: string,
  volunteerId: string,
  now: number,
  offerMs: number,
): AssignmentRecord {
  return {
    id,
    taskId,
    volunteerId,
    status: 'offered',
    assignedAt: now,
    ackedAt: null,
    leaseExpiresAt: now + offerMs,
    endedAt: null,
    outcome: null,
    inferenceMs: null,
  };
}

/** A lease that ended without a result: a timeout lapses it, anything else releases it. */
export const endedLeaseStatus = (outcome: ErrorCode): AssignmentStatus =>
  outcome === 'lease_expired' || outcome === 'ack_timeout' ? 'lapsed' : 'released';

/** Why a lease found expired ends: an offer never acked, or a lease not renewed in time. */
export const lapseOutcome = (status: AssignmentStatus): ErrorCode =>
  status === 'offered' ? 'ack_timeout' : 'lease_expired';

/** The failure of a task not done within `taskDeadlineMs` of its upload. */
export const deadlineFailure = (policy: RetryPolicy): TaskFailure => ({
  code: 'deadline_exceeded',
  message: `not done within ${policy.taskDeadlineMs} ms`,
});

/** A queued task past its deadline (nobody could run it in time) fails. */
export const isOverdue = (task: Pick<TaskRecord, 'submittedAt'>, policy: RetryPolicy, now: number) =>
  task.submittedAt < now - policy.taskDeadlineMs;

/** Unfinished tasks of a job its owner deleted. */
export const CANCELLED: TaskFailure = { code: 'cancelled', message: 'cancelled by its owner' };

/**
 * Whether lost leases may fail a task (`attempts_exhausted`). Not when a referee can run it
 * instead (PROTOCOL.md rule T13, issue 17 A): a task then fails only for its own reasons (the
 * referee cannot decode or run it, or its deadline passes). A lease lost by a volunteer (it left,
 * never acked, let the lease lapse, or reported a failure that does not count) counts against the
 * volunteer and its network, never against the task.
 */
export const lossesFailTasks = (policy: RetryPolicy): boolean =>
  !(policy.verification === true && (policy.refereeWorkers ?? 0) > 0);

/**
 * A running task's last live lease ended without a result: it fails when it used up its
 * attempts (only without a referee, `lossesFailTasks`) or its deadline, else (null) it goes back
 * to the queue. `results`: its assignments that returned a result (kept for verification, rule
 * V3), which are not lost attempts.
 */
export function afterLastLease(
  task: Pick<TaskRecord, 'attempts' | 'submittedAt'>,
  results: number,
  policy: RetryPolicy,
  now: number,
): TaskFailure | null {
  if (lossesFailTasks(policy) && task.attempts - results >= policy.maxAttempts) {
    return { code: 'attempts_exhausted', message: `no result after ${task.attempts} assignments` };
  }
  if (now - task.submittedAt > policy.taskDeadlineMs) return deadlineFailure(policy);
  return null;
}

/**
 * Whether a lease that ended without a result was lost by its volunteer (it left, never acked,
 * let the lease lapse, refused the offer), which counts against the volunteer and its network
 * (issue 17 A); not when the server ended it (cancelled, superseded, shutting down, an image it
 * could not read) or verification already judged it (`impossible_result`).
 */
export const isLostLease = (outcome: string | null): boolean =>
  outcome === 'volunteer_left' || outcome === 'ack_timeout' || outcome === 'lease_expired';

/**
 * A volunteer reported it could not process its task: the task fails with that code once
 * `maxFailureReports` reports counted (`reports`, this one included), else (null) it runs
 * elsewhere.
 */
export function afterFailureReport(
  reports: number,
  counts: boolean,
  code: ErrorCode,
  message: string,
  policy: RetryPolicy,
): TaskFailure | null {
  if (!counts || reports < policy.maxFailureReports) return null;
  return { code, message: `${reports} volunteers reported ${code}: ${message}`.slice(0, 500) };
}

/** The answer to a result or a failure report from a volunteer that does not hold the lease. */
export const notHolder = (assignmentId: string): Extract<CompleteOutcome, { kind: 'rejected' }> => ({
  kind: 'rejected',
  code: 'not_holder',
  message: `assignment ${assignmentId} is not held by this volunteer`,
});

/**
 * Whether a volunteer's result may be taken (`take`), is a replay or a late copy of a final one
 * (`duplicate`: acknowledged, changes nothing), or is refused. The first valid result completes
 * the task, even from a lease that already lapsed (a late result beats a re-run).
 */
export function resultGate(
  assignmentId: string,
  volunteerId: string,
  assignment: Pick<AssignmentRecord, 'status' | 'volunteerId'> | null,
  task: Pick<TaskRecord, 'id' | 'status'> | null,
): { kind: 'take' } | { kind: 'duplicate' } | Extract<CompleteOutcome, { kind: 'rejected' }> {
  if (!assignment || !task || assignment.volunteerId !== volunteerId) return notHolder(assignmentId);
  if (task.status === 'done') return { kind: 'duplicate' };
  if (task.status === 'failed') {
    return { kind: 'rejected', code: 'task_completed', message: `task ${task.id} already failed` };
  }
  // A replay of a result already taken (e.g. one waiting for its replica).
  if (assignment.status === 'completed') return { kind: 'duplicate' };
  if (assignment.status === 'failed' || assignment.status === 'superseded') {
    return {
      kind: 'rejected',
      code: 'not_holder',
      message: `assignment ${assignmentId} has ended (${assignment.status})`,
    };
  }
  return { kind: 'take' };
}

/** How a final result records its verification: none (verification off) counts as one agreeing. */
export const resultMark = (
  mark: VerificationMark | null,
): { verification: TaskRecord['verification']; agreeing: number; pair: string | null } => ({
  verification: mark?.verification ?? null,
  agreeing: mark?.agreeing ?? 1,
  pair: mark?.pairAssignmentId ?? null,
});
