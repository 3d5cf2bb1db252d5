import { newId } from '../ids';
import type { NewTask, TaskRecord } from '../records';

/**
 * A task as stored in Redis (`tg:{job:ID}:tasks` field): its record plus what its API view and
 * live result need from the assignment that produced the result, or the latest one (the SQLite
 * store joins those from its assignments table).
 */
export interface StoredTask extends TaskRecord {
  view: {
    assignedAt: number | null;
    ackedAt: number | null;
    inferenceMs: number | null;
    volunteerId: string | null;
  };
  /** Volunteers that must not get this task again (rule V6), kept across gateways. */
  excluded: string[];
  /**
   * How often backtracking reopened it (rule V7). A gateway holding a copy with a lower count in
   * memory holds a stale one: it was reopened elsewhere. Absent: 0.
   */
  reopened?: number;
  /** The other result of the agreeing pair whose mean it publishes (rule V7a). Absent: none. */
  pairAssignmentId?: string | null;
}

export const NO_VIEW: StoredTask['view'] = {
  assignedAt: null,
  ackedAt: null,
  inferenceMs: null,
  volunteerId: null,
};

/** New queued tasks of a job, numbered from `firstIdx`, as stored in Redis. */
export function newStoredTasks(jobId: string, tasks: NewTask[], firstIdx: number, now: number): StoredTask[] {
  return tasks.map((t, i) => ({
    id: newId('task'),
    jobId,
    idx: firstIdx + i,
    name: t.name,
    imageSha256: t.imageSha256,
    mime: t.mime,
    width: t.width,
    height: t.height,
    status: 'queued',
    submittedAt: now,
    completedAt: null,
    attempts: 0,
    failureReports: 0,
    detections: null,
    resultAssignmentId: null,
    errorCode: null,
    errorMessage: null,
    verification: null,
    agreeing: 0,
    view: NO_VIEW,
    excluded: [],
  }));
}

export const encodeTask = (task: StoredTask): string => JSON.stringify(task);

export function decodeTask(json: string): StoredTask {
  const t = JSON.parse(json) as StoredTask;
  // Lua's cjson (the cancel script) writes an empty array as `{}`.
  if (t.detections && !Array.isArray(t.detections)) t.detections = [];
  if (!Array.isArray(t.excluded)) t.excluded = [];
  return t;
}

/** The record alone, without the view (what the TaskStore interface returns). */
export function recordOf(task: StoredTask): TaskRecord {
  const { view: _view, excluded: _excluded, reopened: _reopened, pairAssignmentId: _pair, ...record } = task;
  return { ...record, detections: record.detections ? [...record.detections] : null };
}
