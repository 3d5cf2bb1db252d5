import type { JobView, LiveResult, TaskView } from '@tabgrid/protocol';
import type { AssignmentRecord, TaskRecord } from './records';

/**
 * The views built from stored records, the same for both backends: a job's API body (`GET
 * /api/jobs/:id`, job watchers), its status, and a stored result before access/ decides who sees
 * it. Callers outside the store (access/, /live, app.ts) import them from here.
 */

/**
 * The API view of one task. `assignedAt`/`ackedAt` are those of the assignment
 * that produced the result, or of the latest one; `resultInferenceMs` that assignment's inference
 * time (used only for the published result: see `publishedInferenceMs`).
 */
export function taskView(
  task: TaskRecord,
  assignedAt: number | null,
  ackedAt: number | null,
  resultInferenceMs: number | null = null,
): TaskView {
  return {
    id: task.id,
    name: task.name,
    status: task.status,
    width: task.width,
    height: task.height,
    detections: task.detections ?? [],
    timings: {
      submittedAt: task.submittedAt,
      assignedAt,
      ackedAt,
      completedAt: task.completedAt,
      inferenceMs: publishedInferenceMs(task, resultInferenceMs),
    },
    attempts: task.attempts,
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage ?? '' } : null,
    verification: task.status === 'done' ? task.verification : null,
    agreeing: task.status === 'done' ? task.agreeing : 0,
    // Which bytes the photo is: a resumed upload matches files by name and this (PROTOCOL.md H7).
    ...(task.imageSha256 ? { digest: task.imageSha256.slice(0, 16) } : {}),
  };
}

/**
 * How long the inference of a done task's published result took (ms): the referee's own run
 * (`refereed`, PROTOCOL.md V8) or its result assignment's; null before the task is done or when
 * unknown (a result from before this was stored).
 */
export function publishedInferenceMs(task: TaskRecord, resultInferenceMs: number | null): number | null {
  if (task.status !== 'done') return null;
  if (task.refereeMs !== undefined) return task.refereeMs;
  return task.resultAssignmentId ? resultInferenceMs : null;
}

/**
 * Job status from its tasks: `queued` until one starts, `running` while any is
 * unfinished, then `done` — or `failed` if any task failed.
 */
export function jobStatus(tasks: readonly Pick<TaskView, 'status'>[]): JobView['status'] {
  if (tasks.every((t) => t.status === 'queued')) return 'queued';
  if (tasks.some((t) => t.status === 'queued' || t.status === 'running')) return 'running';
  return tasks.some((t) => t.status === 'failed') ? 'failed' : 'done';
}

/** A stored result before access/ decides who sees it and how (see access/live-visibility.ts). */
export type StoredResult = Omit<LiveResult, 'id' | 'own' | 'jobId' | 'taskId'> & {
  jobId: string;
  taskId: string;
};

/** A stored result; `volunteerName` is the volunteer's public display name, never its id. */
export function liveResult(
  task: TaskRecord,
  assignment: Pick<AssignmentRecord, 'inferenceMs'> | null,
  volunteerName = '',
): StoredResult {
  const completedAt = task.completedAt ?? 0;
  return {
    jobId: task.jobId,
    taskId: task.id,
    name: task.name,
    width: task.width,
    height: task.height,
    imageUrl: `/api/jobs/${task.jobId}/tasks/${task.id}/image`,
    detections: task.detections ?? [],
    volunteerName,
    // A refereed result has no assignment: the referee's own run time (PROTOCOL.md V8).
    inferenceMs: assignment?.inferenceMs ?? task.refereeMs ?? 0,
    latencyMs: completedAt - task.submittedAt,
    completedAt,
  };
}
