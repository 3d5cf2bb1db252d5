import type { JobView } from '@tabgrid/protocol';
import type { Db } from '../../storage/database';
import type { TaskCounts } from '../records';
import type { DeletedJob } from '../scheduling-store';
import { jobStatus, taskView } from '../views';
import type { LeaseMemory } from './lease-memory';
import { toTask } from './rows';
import type { Statements } from './statements';

/** A job as a whole: its view and the task counts (read), its deletion and owner (written). */
export class JobsTable {
  private readonly s;

  constructor(
    db: Db,
    private readonly tasks: Pick<Statements, 'job' | 'jobTasks' | 'counts'>,
    /** The live leases: a task holding one is running (in SQLite it is still `queued`). */
    private readonly leases: LeaseMemory,
  ) {
    this.s = {
      deletedAt: db.prepare<[string], { deleted_at: number | null }>(
        'SELECT deleted_at FROM jobs WHERE id = ?',
      ),
      markDeleted: db.prepare('UPDATE jobs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
      imagesOnlyHere: db.prepare<[string, string], { sha: string }>(
        `SELECT DISTINCT t.image_sha256 AS sha FROM tasks t WHERE t.job_id = ?
         AND NOT EXISTS (SELECT 1 FROM tasks o WHERE o.image_sha256 = t.image_sha256 AND o.job_id != ?
                         AND o.job_id IN (SELECT id FROM jobs WHERE deleted_at IS NULL))`,
      ),
      adopt: db.prepare('UPDATE jobs SET owner = ? WHERE owner IS NULL OR owner = ?'),
    };
  }

  /** The public view of a job (the `GET /api/jobs/:id` body), or null. One query for all its tasks. */
  view(jobId: string): JobView | null {
    const job = this.tasks.job.get(jobId);
    if (!job) return null;
    const tasks = this.tasks.jobTasks.all(jobId).map((row) => {
      const live = this.leases.latestForTask(row.id);
      if (!live) return taskView(toTask(row), row.view_assigned_at, row.view_acked_at);
      const task = toTask(row);
      const running = {
        ...task,
        status: 'running' as const,
        attempts: task.attempts + this.leases.countForTask(row.id),
      };
      return taskView(running, live.assignedAt, live.ackedAt);
    });
    return { id: job.id, status: jobStatus(tasks), createdAt: job.created_at, tasks };
  }

  counts(): TaskCounts {
    const counts: TaskCounts = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const { status, n } of this.tasks.counts.all()) counts[status] = n;
    counts.running += this.leases.runningCount;
    counts.queued -= this.leases.runningCount;
    return counts;
  }

  /** Idempotent: a second call keeps the first time and frees nothing new. */
  markDeleted(jobId: string, now: number): DeletedJob {
    const first = this.s.markDeleted.run(now, jobId).changes > 0;
    const deletedAt = this.s.deletedAt.get(jobId)?.deleted_at ?? now;
    return { deletedAt, freeable: first ? this.s.imagesOnlyHere.all(jobId, jobId).map((r) => r.sha) : [] };
  }

  adoptOrphans(owner: string): number {
    return this.s.adopt.run(owner, '').changes;
  }
}
