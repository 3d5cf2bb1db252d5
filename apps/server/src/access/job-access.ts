import { TabgridError, type JobSummary } from '@tabgrid/protocol';
import { jobStatus } from '../store/views';
import type { TaskRecord } from '../store/records';

/** A job's access fields. */
export interface JobAccessRow {
  id: string;
  owner: string | null;
  isPublic: boolean;
  deletedAt: number | null;
  /** Set once `POST /api/jobs/:id/cancel` ran (the first cancel's time). */
  cancelledAt: number | null;
  /** How many photos the requester meant to send (`?expected=` on `POST /api/jobs`), or null. */
  expected: number | null;
}

/** One entry of {@link JobAccess.recentVisible}. */
export interface RecentVisible {
  taskId: string;
  owner: string | null;
  isPublic: boolean;
  result?: { task: TaskRecord; volunteerId: string | null; inferenceMs: number | null };
}

/** Largest page of `GET /api/jobs`. */
export const MAX_PAGE = 100;

/**
 * Ownership and visibility of jobs, read only: who owns a job, whether it is public, the owner's
 * job list and the results a viewer may see. The job's record is the store's (`JobRecords`): its
 * creation, cancel, expected photos, deletion and adoption are written there, by `jobs/`, the
 * upload routes and `bootstrap.ts`. `SqliteJobAccess` (one process) and `RedisJobAccess` (every
 * gateway) read the shared job records.
 * Contract: apps/server/test/contracts/job-access.ts.
 */
export interface JobAccess {
  get(jobId: string): Promise<JobAccessRow | null>;
  /** True when `requester` owns the job. Everyone else is told the job does not exist. */
  owns(requester: string, jobId: string): Promise<boolean>;
  /** Tasks of this requester not finished yet (its share of the queue). */
  unfinishedTasks(requester: string): Promise<number>;
  /**
   * One page of a requester's jobs, newest first. The cursor is the last job's position
   * (base64url), opaque to clients.
   */
  list(
    requester: string,
    limit: number,
    cursor: string | null,
  ): Promise<{ jobs: JobSummary[]; nextCursor: string | null }>;
  /**
   * Newest done task ids a viewer may see: public jobs, plus the viewer's own (null = anonymous),
   * of jobs not deleted. `result` carries the task when it may have run on another gateway (Redis);
   * without it the caller finds the task in its own store (SQLite).
   */
  recentVisible(viewer: string | null, limit: number): Promise<RecentVisible[]>;
}

export const encodeCursor = (seq: number) => Buffer.from(String(seq)).toString('base64url');

export function decodeCursor(cursor: string): number {
  const seq = /^[A-Za-z0-9_-]{1,24}$/.test(cursor)
    ? Number(Buffer.from(cursor, 'base64url').toString('utf8'))
    : NaN;
  if (!Number.isSafeInteger(seq) || seq <= 0)
    throw new TabgridError('bad_request', 'cursor is not one this server handed out', 400);
  return seq;
}

/** A job's tasks by status. */
export interface StatusCounts {
  queued: number;
  running: number;
  done: number;
  failed: number;
}

/** One `GET /api/jobs` entry from a job's access fields and its tasks' counts. */
export function jobSummary(
  job: {
    id: string;
    createdAt: number;
    isPublic: boolean;
    deletedAt: number | null;
    cancelledAt: number | null;
    expected: number | null;
  },
  counts: StatusCounts,
): JobSummary {
  const total = counts.queued + counts.running + counts.done + counts.failed;
  const statuses = Object.entries(counts).flatMap(([status, n]) =>
    Array.from({ length: Math.min(n, 1) }, () => ({ status: status as JobSummary['status'] })),
  );
  return {
    id: job.id,
    status: total === 0 ? 'done' : jobStatus(statuses),
    createdAt: job.createdAt,
    public: job.isPublic,
    deletedAt: job.deletedAt,
    cancelledAt: job.cancelledAt,
    expected: job.expected,
    tasks: { total, ...counts },
  };
}
