import type { Detection, ErrorCode, TaskStatus, TaskVerification } from '@tabgrid/protocol';

export type AssignmentStatus =
  'offered' | 'acked' | 'completed' | 'lapsed' | 'released' | 'failed' | 'superseded';
/** Assignment states that hold a lease. */
export const LIVE_ASSIGNMENT: readonly AssignmentStatus[] = ['offered', 'acked'];

export interface NewTask {
  name: string;
  imageSha256: string;
  mime: string;
  width: number;
  height: number;
}

export interface TaskRecord {
  id: string;
  jobId: string;
  idx: number;
  name: string;
  imageSha256: string;
  mime: string;
  width: number;
  height: number;
  status: TaskStatus;
  submittedAt: number;
  completedAt: number | null;
  attempts: number;
  failureReports: number;
  detections: Detection[] | null;
  resultAssignmentId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** How the final result was verified (null until done, or with verification off). */
  verification: Verification | null;
  /** Results that agreed with the final one (the referee counts as one). */
  agreeing: number;
  /**
   * The referee's inference time (ms) when the published result is its own (`refereed`, no
   * result assignment to carry it); absent otherwise.
   */
  refereeMs?: number;
}

/** How a task's final result was verified (PROTOCOL.md rule V8). */
export type Verification = TaskVerification;

/** A final result's verification, as recorded with it. */
export interface VerificationMark {
  verification: Verification;
  agreeing: number;
  /**
   * The other result of the agreeing pair whose mean is published (`replicated`, `spot-checked`;
   * the named one is `resultAssignmentId`): backtracking reopens the task if either lied (V7a).
   */
  pairAssignmentId?: string | null;
}

export interface AssignmentRecord {
  id: string;
  taskId: string;
  volunteerId: string;
  status: AssignmentStatus;
  assignedAt: number;
  ackedAt: number | null;
  leaseExpiresAt: number;
  endedAt: number | null;
  outcome: string | null;
  inferenceMs: number | null;
}

/**
 * What a settlement by the verifier (`TaskStore.finalize`) stores besides the published result
 * (PROTOCOL.md V8, C2).
 */
export interface Settlement {
  /** The referee's inference time (ms) when the published result is its own (`TaskRecord.refereeMs`). */
  refereeMs?: number | null;
  /**
   * Completed assignments whose results the settlement verified, and those it rejected
   * (`quarantined`: counted for nothing): kept with them (SQLite: the assignment's `outcome`,
   * `VERDICT_OUTCOMES`), so crash recovery grants or revokes their credit as the live path does
   * (ledger/sqlite-ledger-recovery.ts).
   */
  agreeing?: readonly string[];
  rejected?: readonly { assignmentId: string; quarantined: boolean }[];
}

/** A completed assignment's `outcome` once a settlement judged it (null before). */
export const VERDICT_OUTCOMES = { agreed: 'agreed', wrong: 'wrong', quarantined: 'quarantined' } as const;

/** An assignment that stopped holding a lease, and what became of its task. */
export interface EndedLease {
  assignment: AssignmentRecord;
  task: TaskRecord;
}

export type CompleteOutcome =
  | { kind: 'accepted'; task: TaskRecord; assignment: AssignmentRecord; superseded: AssignmentRecord[] }
  | { kind: 'duplicate'; task: TaskRecord }
  | { kind: 'rejected'; code: ErrorCode; message: string };

export type FailureOutcome =
  | { kind: 'recorded'; task: TaskRecord; assignment: AssignmentRecord }
  | { kind: 'rejected'; code: ErrorCode; message: string };

export interface TaskCounts {
  queued: number;
  running: number;
  done: number;
  failed: number;
}

/** Limits the store applies when a task would go back to the queue. */
export interface RetryPolicy {
  maxAttempts: number;
  maxFailureReports: number;
  taskDeadlineMs: number;
  /** An assignment's lease is never renewed past `assignedAt + maxAssignmentMs`. @defaultValue no cap */
  maxAssignmentMs?: number;
  /**
   * Whether results are verified, and referee threads (config.ts): with both, the referee runs a
   * task lost too often instead of failing it, so lost leases never fail a task (issue 17 A).
   * @defaultValue absent: lost leases fail a task after `maxAttempts`, as without a referee
   */
  verification?: boolean;
  refereeWorkers?: number;
}

/**
 * A batch of store writes stopped part-way (e.g. SQLITE_BUSY on the third of
 * ten releases): `done` is what was committed before `cause` was thrown.
 */
export class PartialBatchError extends Error {
  override readonly name = 'PartialBatchError';
  constructor(
    readonly done: EndedLease[],
    override readonly cause: unknown,
  ) {
    super(
      `batch stopped after ${done.length} writes: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}
