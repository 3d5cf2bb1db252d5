import type { JobView } from '@tabgrid/protocol';
import { durably, type Db } from '../../storage/database';
import { newId } from '../ids';
import type { NewTask, TaskCounts } from '../records';
import type { DeletedJob, JobAccessFields } from '../scheduling-store';
import { jobStatus, taskView } from '../views';
import type { LeaseMemory } from './lease-memory';
import { toTask } from './rows';
import type { Statements } from './statements';

/** A task row just written (queued), in upload order. */
export type InsertedTask = NewTask & { id: string; jobId: string; idx: number; submittedAt: number };

/**
 * A job as a whole: its creation and added tasks, its view and the task counts (read); its
 * deletion, cancel, expected photos and owner (written: the only writes to a job's row).
 */
export class JobsTable {
  private readonly s;

  constructor(
    private readonly db: Db,
    private readonly tasks: Pick<
      Statements,
      'job' | 'jobTasks' | 'counts' | 'insertJob' | 'insertTask' | 'nextIdx'
    >,
    /** The live leases: a task holding one is running (in SQLite it is still `queued`). */
    private readonly leases: LeaseMemory,
  ) {
    this.s = {
      deletedAt: db.prepare<[string], { deleted_at: number | null }>(
        'SELECT deleted_at FROM jobs WHERE id = ?',
      ),
      markDeleted: db.prepare('UPDATE jobs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
      cancelledAt: db.prepare<[string], { cancelled_at: number | null }>(
        'SELECT cancelled_at FROM jobs WHERE id = ?',
      ),
      markCancelled: db.prepare('UPDATE jobs SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL'),
      setExpected: db.prepare('UPDATE jobs SET expected = ? WHERE id = ?'),
      imagesOnlyHere: db.prepare<[string, string], { sha: string }>(
        `SELECT DISTINCT t.image_sha256 AS sha FROM tasks t WHERE t.job_id = ?
         AND NOT EXISTS (SELECT 1 FROM tasks o WHERE o.image_sha256 = t.image_sha256 AND o.job_id != ?
                         AND o.job_id IN (SELECT id FROM jobs WHERE deleted_at IS NULL))`,
      ),
      adopt: db.prepare('UPDATE jobs SET owner = ? WHERE owner IS NULL OR owner = ?'),
    };
  }

  /**
   * Records a job and its tasks (all queued) in one transaction, fsynced before it returns.
   * `access` names the requester (key name) that owns it and whether its results are public.
   */
  insert(tasks: NewTask[], now: number, access: JobAccessFields): { jobId: string; created: InsertedTask[] } {
    const jobId = newId('job');
    const created = tasks.map((t, idx) => ({ ...t, id: newId('task'), jobId, idx, submittedAt: now }));
    durably(this.db, () => {
      this.tasks.insertJob.run(jobId, now, access.owner, access.isPublic ? 1 : 0);
      for (const t of created) this.tasks.insertTask.run(t);
    });
    return { jobId, created };
  }

  /**
   * Adds tasks (all queued) to an existing job, numbered after its last task, in one
   * transaction fsynced before it returns. The caller checked that the job exists and is open.
   */
  append(jobId: string, tasks: NewTask[], now: number): InsertedTask[] {
    const created: InsertedTask[] = [];
    durably(this.db, () => {
      const next = this.tasks.nextIdx.get(jobId)!.next;
      for (const [i, t] of tasks.entries()) {
        const task = { ...t, id: newId('task'), jobId, idx: next + i, submittedAt: now };
        this.tasks.insertTask.run(task);
        created.push(task);
      }
    });
    return created;
  }

  /** The public view of a job (the `GET /api/jobs/:id` body), or null. One query for all its tasks. */
  view(jobId: string): JobView | null {
    const job = this.tasks.job.get(jobId);
    if (!job) return null;
    const tasks = this.tasks.jobTasks.all(jobId).map((row) => {
      const live = this.leases.latestForTask(row.id);
      if (!live) return taskView(toTask(row), row.view_assigned_at, row.view_acked_at, row.view_inference_ms);
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

  /** Idempotent: the first cancel's time stays. */
  markCancelled(jobId: string, now: number): number {
    this.s.markCancelled.run(now, jobId);
    return this.s.cancelledAt.get(jobId)?.cancelled_at ?? now;
  }

  setExpected(jobId: string, expected: number): void {
    this.s.setExpected.run(expected, jobId);
  }

  adoptOrphans(owner: string): number {
    return this.s.adopt.run(owner, '').changes;
  }
}
