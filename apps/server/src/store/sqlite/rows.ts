import type { Detection } from '@tabgrid/protocol';
import type { AssignmentRecord, AssignmentStatus, TaskRecord } from '../records';

/** The SQLite rows of the scheduling tables (migrations in storage/database.ts) and their records. */

export interface TaskRow {
  id: string;
  job_id: string;
  idx: number;
  name: string;
  image_sha256: string;
  mime: string;
  width: number;
  height: number;
  status: TaskRecord['status'];
  submitted_at: number;
  completed_at: number | null;
  attempts: number;
  failure_reports: number;
  result_json: string | null;
  result_assignment_id: string | null;
  error_code: string | null;
  error_message: string | null;
  verification: TaskRecord['verification'];
  agreeing: number;
  /** Migration 11; absent before it ran. */
  referee_ms?: number | null;
}

/** Timing columns joined onto a task row for its API view. */
export interface TimingColumns {
  view_assigned_at: number | null;
  view_acked_at: number | null;
  view_inference_ms: number | null;
}

export interface AssignmentRow {
  id: string;
  task_id: string;
  volunteer_id: string;
  status: AssignmentStatus;
  assigned_at: number;
  acked_at: number | null;
  lease_expires_at: number;
  ended_at: number | null;
  outcome: string | null;
  inference_ms: number | null;
}

export const toTask = (r: TaskRow): TaskRecord => ({
  id: r.id,
  jobId: r.job_id,
  idx: r.idx,
  name: r.name,
  imageSha256: r.image_sha256,
  mime: r.mime,
  width: r.width,
  height: r.height,
  status: r.status,
  submittedAt: r.submitted_at,
  completedAt: r.completed_at,
  attempts: r.attempts,
  failureReports: r.failure_reports,
  detections: r.result_json ? (JSON.parse(r.result_json) as Detection[]) : null,
  resultAssignmentId: r.result_assignment_id,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  verification: r.verification,
  agreeing: r.agreeing,
  ...(r.referee_ms != null ? { refereeMs: r.referee_ms } : {}),
});

export const toAssignment = (r: AssignmentRow): AssignmentRecord => ({
  id: r.id,
  taskId: r.task_id,
  volunteerId: r.volunteer_id,
  status: r.status,
  assignedAt: r.assigned_at,
  ackedAt: r.acked_at,
  leaseExpiresAt: r.lease_expires_at,
  endedAt: r.ended_at,
  outcome: r.outcome,
  inferenceMs: r.inference_ms,
});

/**
 * A task's record once `completeTask` has written it, from `task` as read earlier in the same
 * transaction (`getTask`): its live leases were counted as attempts, and ending them counts each
 * in the row, so `attempts` is unchanged.
 */
export const doneTask = (
  task: TaskRecord,
  completedAt: number,
  resultJson: string,
  resultAssignmentId: string | null,
  verification: TaskRecord['verification'],
  agreeing: number,
  refereeMs: number | null,
): TaskRecord => {
  const { refereeMs: _stale, ...rest } = task;
  return {
    ...rest,
    status: 'done',
    completedAt,
    detections: JSON.parse(resultJson) as Detection[],
    resultAssignmentId,
    verification,
    agreeing,
    ...(refereeMs != null ? { refereeMs } : {}),
  };
};
