import type { JobSummary } from '@tabgrid/protocol';
import type { Db } from '../storage/database';
import { decodeCursor, encodeCursor, jobSummary, type JobAccess, type JobAccessRow } from './job-access';

interface SummaryRow {
  id: string;
  seq: number;
  created_at: number;
  public: number;
  deleted_at: number | null;
  cancelled_at: number | null;
  expected: number | null;
  total: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
}

/** Tasks running in memory, per job (the store's `LeaseMemory`): `queued` in their SQLite rows. */
export interface RunningTasks {
  runningInJob(jobId: string): number;
}

/**
 * `JobAccess` on SQLite: read-only queries on the store's tables and their access columns
 * (migration 3); every write to them is `SchedulerStore`'s. Live leases are in the store's memory
 * only, so the job list moves each job's running tasks from its `queued` rows (`running`).
 */
export class SqliteJobAccess implements JobAccess {
  private readonly s;

  constructor(
    db: Db,
    private readonly running: RunningTasks,
  ) {
    this.s = {
      job: db.prepare<
        [string],
        {
          id: string;
          owner: string | null;
          public: number;
          deleted_at: number | null;
          cancelled_at: number | null;
          expected: number | null;
        }
      >('SELECT id, owner, public, deleted_at, cancelled_at, expected FROM jobs WHERE id = ?'),
      // The page's jobs first, then only their tasks counted: counting every job's tasks before
      // the LIMIT took 40-100 ms with 100 jobs of 100 photos (10 ms per 1,000 tasks of history).
      page: db.prepare<[string, number, number], SummaryRow>(
        `SELECT j.id, j.seq, j.created_at, j.public, j.deleted_at, j.cancelled_at, j.expected,
                COUNT(t.id) AS total,
                COALESCE(SUM(t.status = 'queued'), 0) AS queued,
                COALESCE(SUM(t.status = 'running'), 0) AS running,
                COALESCE(SUM(t.status = 'done'), 0) AS done,
                COALESCE(SUM(t.status = 'failed'), 0) AS failed
         FROM (SELECT * FROM jobs WHERE owner = ? AND seq < ? ORDER BY seq DESC LIMIT ?) j
         LEFT JOIN tasks t ON t.job_id = j.id
         GROUP BY j.id ORDER BY j.seq DESC`,
      ),
      unfinished: db.prepare<[string], { n: number }>(
        `SELECT COUNT(*) AS n FROM tasks t JOIN jobs j ON j.id = t.job_id
         WHERE j.owner = ? AND t.status IN ('queued', 'running')`,
      ),
      recentVisible: db.prepare<[string, number], { id: string; owner: string | null; public: number }>(
        `SELECT t.id, j.owner, j.public FROM tasks t JOIN jobs j ON j.id = t.job_id
         WHERE t.status = 'done' AND j.deleted_at IS NULL AND (j.public = 1 OR j.owner = ?)
         ORDER BY t.completed_at DESC LIMIT ?`,
      ),
    };
  }

  get(jobId: string): Promise<JobAccessRow | null> {
    const row = this.s.job.get(jobId);
    return Promise.resolve(
      row
        ? {
            id: row.id,
            owner: row.owner,
            isPublic: row.public === 1,
            deletedAt: row.deleted_at,
            cancelledAt: row.cancelled_at,
            expected: row.expected,
          }
        : null,
    );
  }

  /** True when `requester` owns the job. Everyone else is told the job does not exist. */
  owns(requester: string, jobId: string): Promise<boolean> {
    const owner = this.s.job.get(jobId)?.owner;
    return Promise.resolve(owner != null && owner !== '' && owner === requester);
  }

  /** Tasks of this requester not finished yet (its share of the queue). */
  unfinishedTasks(requester: string): Promise<number> {
    return Promise.resolve(this.s.unfinished.get(requester)!.n);
  }

  /**
   * One page of a requester's jobs, newest first. The cursor is the last job's position
   * (base64url), opaque to clients.
   */
  list(
    requester: string,
    limit: number,
    cursor: string | null,
  ): Promise<{ jobs: JobSummary[]; nextCursor: string | null }> {
    const before = cursor === null ? Number.MAX_SAFE_INTEGER : decodeCursor(cursor);
    const rows = this.s.page.all(requester, before, limit + 1);
    const page = rows.slice(0, limit);
    const jobs = page.map((r) => {
      // A task with a live lease is `queued` in SQLite (every other status ends its leases).
      const live = Math.min(this.running.runningInJob(r.id), r.queued);
      return jobSummary(
        {
          id: r.id,
          createdAt: r.created_at,
          isPublic: r.public === 1,
          deletedAt: r.deleted_at,
          cancelledAt: r.cancelled_at,
          expected: r.expected,
        },
        { queued: r.queued - live, running: r.running + live, done: r.done, failed: r.failed },
      );
    });
    const last = page.at(-1);
    return Promise.resolve({ jobs, nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null });
  }

  /** Newest done task ids a viewer may see: public jobs, plus the viewer's own (null = anonymous). */
  recentVisible(
    viewer: string | null,
    limit: number,
  ): Promise<{ taskId: string; owner: string | null; isPublic: boolean }[]> {
    const rows = this.s.recentVisible.all(viewer ?? '\u0000', limit);
    return Promise.resolve(rows.map((r) => ({ taskId: r.id, owner: r.owner, isPublic: r.public === 1 })));
  }
}
