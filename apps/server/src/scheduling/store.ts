import { randomBytes } from 'node:crypto';
import type { Detection, ErrorCode, JobView, LiveResult, TaskView } from '@tabgrid/protocol';
import { durably, type Db } from '../storage/database';
import { FairQueue } from './fair-queue';
import type { JobAccessFields, SchedulingStore } from './scheduling-store';
import {
  PartialBatchError,
  type AssignmentRecord,
  type AssignmentStatus,
  type CompleteOutcome,
  type EndedLease,
  type FailureOutcome,
  type NewTask,
  type RetryPolicy,
  type TaskCounts,
  type TaskRecord,
  type VerificationMark,
} from './types';

export type { JobAccessFields } from './scheduling-store';

/** Random bytes per id (12 base64url characters), drawn from a pool refilled 512 ids at a time. */
const ID_BYTES = 9;
let idPool = Buffer.alloc(0);
let idAt = 0;

/**
 * A new random id: `<prefix>_<12 base64url characters>` (72 bits from the system's CSPRNG). The
 * bytes come from a pool: one `randomBytes` call per 512 ids instead of one per id, which was a
 * quarter of the local cache's time per offer (a CPU profile of 20,000 offers).
 */
export function newId(prefix: string): string {
  if (idAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 512);
    idAt = 0;
  }
  const id = idPool.toString('base64url', idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return `${prefix}_${id}`;
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

interface TaskRow {
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
}

/** Timing columns joined onto a task row for its API view. */
interface TimingColumns {
  view_assigned_at: number | null;
  view_acked_at: number | null;
}

interface AssignmentRow {
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

const toTask = (r: TaskRow): TaskRecord => ({
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
});

const toAssignment = (r: AssignmentRow): AssignmentRecord => ({
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
 * All scheduling state — jobs, tasks, assignments (leases) and the queue —
 * behind one module. Every state change is one SQLite transaction; the
 * in-memory FairQueue is only an index over tasks whose status is `queued`.
 * A multi-instance deployment replaces this class, not its callers.
 *
 * The index only changes after the transaction that justifies it has
 * committed (`transact`): a write that fails (SQLITE_BUSY, SQLITE_FULL, …)
 * leaves both the database and the index as they were, so no queued task
 * can drop out of the index.
 *
 * Task states: queued -> running -> done | failed, and running -> queued when
 * its lease ends without a result (see ARCHITECTURE.md, "Life of a task").
 */
export class SchedulerStore implements SchedulingStore {
  /** Fair across requesters first, then across each requester's jobs. */
  private readonly queue = new FairQueue((jobId) => this.s.jobOwner.get(jobId)?.owner ?? '');
  /** Index changes waiting for the current transaction to commit (null outside `transact`). */
  private afterCommit: (() => void)[] | null = null;
  /** Volunteers that reported a failure on a task: it is retried elsewhere. */
  private readonly excluded = new Map<string, Set<string>>();
  private readonly s;
  /** Transactions built once (better-sqlite3 builds a wrapper per `transaction()` call). */
  private readonly tx;

  constructor(
    private readonly db: Db,
    private readonly policy: RetryPolicy,
  ) {
    this.s = {
      insertJob: db.prepare(
        `INSERT INTO jobs (id, seq, created_at, owner, public)
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?, ?, ?)`,
      ),
      jobOwner: db.prepare<[string], { owner: string | null }>('SELECT owner FROM jobs WHERE id = ?'),
      unfinishedOfJob: db.prepare<[string], TaskRow>(
        "SELECT * FROM tasks WHERE job_id = ? AND status IN ('queued', 'running')",
      ),
      insertTask: db.prepare(
        `INSERT INTO tasks (id, job_id, idx, name, image_sha256, mime, width, height, status, submitted_at)
         VALUES (@id, @jobId, @idx, @name, @imageSha256, @mime, @width, @height, 'queued', @submittedAt)`,
      ),
      task: db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?'),
      nextIdx: db.prepare<[string], { next: number }>(
        'SELECT COALESCE(MAX(idx), -1) + 1 AS next FROM tasks WHERE job_id = ?',
      ),
      jobTasks: db.prepare<[string], TaskRow & TimingColumns>(
        `SELECT t.*, a.assigned_at AS view_assigned_at, a.acked_at AS view_acked_at
         FROM tasks t LEFT JOIN assignments a ON a.id = COALESCE(
           t.result_assignment_id,
           (SELECT id FROM assignments WHERE task_id = t.id ORDER BY assigned_at DESC, rowid DESC LIMIT 1))
         WHERE t.job_id = ? ORDER BY t.idx`,
      ),
      job: db.prepare<[string], { id: string; created_at: number }>(
        'SELECT id, created_at FROM jobs WHERE id = ?',
      ),
      assignment: db.prepare<[string], AssignmentRow>('SELECT * FROM assignments WHERE id = ?'),
      imageUsed: db.prepare<[string], { one: number }>(
        'SELECT 1 AS one FROM tasks WHERE image_sha256 = ? LIMIT 1',
      ),
      liveForTask: db.prepare<[string], AssignmentRow>(
        "SELECT * FROM assignments WHERE task_id = ? AND status IN ('offered', 'acked')",
      ),
      liveForVolunteer: db.prepare<[string], AssignmentRow>(
        "SELECT * FROM assignments WHERE volunteer_id = ? AND status IN ('offered', 'acked')",
      ),
      expired: db.prepare<[number, number], AssignmentRow>(
        "SELECT * FROM assignments WHERE status IN ('offered', 'acked') AND lease_expires_at < ? LIMIT ?",
      ),
      extendLive: db.prepare(
        "UPDATE assignments SET lease_expires_at = lease_expires_at + ? WHERE status IN ('offered', 'acked')",
      ),
      allLive: db.prepare<[], AssignmentRow>(
        "SELECT * FROM assignments WHERE status IN ('offered', 'acked')",
      ),
      insertAssignment: db.prepare(
        `INSERT INTO assignments (id, task_id, volunteer_id, status, assigned_at, lease_expires_at)
         VALUES (?, ?, ?, 'offered', ?, ?)`,
      ),
      // RETURNING: the changed row in the same statement (no second lookup on the hot path).
      startTask: db.prepare<[string], TaskRow>(
        "UPDATE tasks SET status = 'running', attempts = attempts + 1 WHERE id = ? AND status = 'queued' RETURNING *",
      ),
      ack: db.prepare<[number, number, string], AssignmentRow>(
        "UPDATE assignments SET status = 'acked', acked_at = ?, lease_expires_at = ? WHERE id = ? AND status = 'offered' RETURNING *",
      ),
      // Capped at assigned_at + maxAssignmentMs: heartbeats cannot hold a task forever.
      renew: db.prepare(
        `UPDATE assignments SET lease_expires_at = MIN(?, assigned_at + ?)
         WHERE id = ? AND volunteer_id = ? AND status IN ('offered', 'acked')`,
      ),
      endAssignment: db.prepare(
        'UPDATE assignments SET status = ?, ended_at = ?, outcome = ?, inference_ms = COALESCE(?, inference_ms) WHERE id = ?',
      ),
      requeueTask: db.prepare("UPDATE tasks SET status = 'queued' WHERE id = ? AND status = 'running'"),
      resultsForTask: db.prepare<[string], { n: number }>(
        "SELECT COUNT(*) AS n FROM assignments WHERE task_id = ? AND status = 'completed'",
      ),
      trustedOf: db.prepare<[string], { id: string }>(
        `SELECT a.id FROM tasks t JOIN assignments a ON a.id = t.result_assignment_id
         WHERE t.status = 'done' AND t.verification = 'trusted' AND a.volunteer_id = ?`,
      ),
      reopenTask: db.prepare(
        `UPDATE tasks SET status = 'queued', completed_at = NULL, result_json = NULL,
           result_assignment_id = NULL, verification = NULL, agreeing = 0
         WHERE id = ? AND status = 'done' AND result_assignment_id = ?
           AND job_id NOT IN (SELECT id FROM jobs WHERE deleted_at IS NOT NULL)`,
      ),
      completeTask: db.prepare(
        `UPDATE tasks SET status = 'done', completed_at = ?, result_json = ?, result_assignment_id = ?,
           verification = ?, agreeing = ?
         WHERE id = ? AND status IN ('queued', 'running')`,
      ),
      failTask: db.prepare(
        `UPDATE tasks SET status = 'failed', completed_at = ?, error_code = ?, error_message = ?
         WHERE id = ? AND status IN ('queued', 'running')`,
      ),
      countFailure: db.prepare('UPDATE tasks SET failure_reports = failure_reports + 1 WHERE id = ?'),
      counts: db.prepare<[], { status: TaskRecord['status']; n: number }>(
        'SELECT status, COUNT(*) AS n FROM tasks GROUP BY status',
      ),
      queuedInOrder: db.prepare<[], { id: string; job_id: string }>(
        `SELECT t.id, t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id
         WHERE t.status = 'queued' ORDER BY j.seq, t.idx`,
      ),
      overdueQueued: db.prepare<[number], TaskRow>(
        "SELECT * FROM tasks WHERE status = 'queued' AND submitted_at < ?",
      ),
    };
    this.tx = {
      /** The task starts and its offered assignment is recorded; undefined if it was no longer queued. */
      offer: db.transaction(
        (taskId: string, assignmentId: string, volunteerId: string, now: number, expires: number) => {
          const started = this.s.startTask.get(taskId);
          if (started) this.s.insertAssignment.run(assignmentId, taskId, volunteerId, now, expires);
          return started;
        },
      ),
      run: db.transaction((fn: () => unknown) => fn()),
    };
  }

  // ------------------------------------------------------------------ jobs

  /**
   * Records a job and its tasks (all queued) in one transaction, fsynced before it returns.
   * `access` names the requester (key name) that owns it and whether its results are public.
   */
  createJob(
    tasks: NewTask[],
    now: number,
    access: JobAccessFields = { owner: '', isPublic: false },
  ): { id: string; tasks: { id: string; name: string }[] } {
    const jobId = newId('job');
    const created = tasks.map((t, idx) => ({ ...t, id: newId('task'), jobId, idx, submittedAt: now }));
    durably(this.db, () => {
      this.s.insertJob.run(jobId, now, access.owner, access.isPublic ? 1 : 0);
      for (const t of created) this.s.insertTask.run(t);
    });
    for (const t of created) this.queue.pushBack(jobId, t.id);
    return { id: jobId, tasks: created.map((t) => ({ id: t.id, name: t.name })) };
  }

  /**
   * Adds tasks (all queued) to an existing job, numbered after its last task, in one
   * transaction fsynced before it returns. The caller checked that the job exists and is open.
   */
  appendTasks(
    jobId: string,
    tasks: NewTask[],
    now: number,
  ): { id: string; tasks: { id: string; name: string }[] } {
    const created: (NewTask & { id: string; jobId: string; idx: number; submittedAt: number })[] = [];
    durably(this.db, () => {
      const next = this.s.nextIdx.get(jobId)!.next;
      for (const [i, t] of tasks.entries()) {
        const task = { ...t, id: newId('task'), jobId, idx: next + i, submittedAt: now };
        this.s.insertTask.run(task);
        created.push(task);
      }
    });
    for (const t of created) this.queue.pushBack(jobId, t.id);
    return { id: jobId, tasks: created.map((t) => ({ id: t.id, name: t.name })) };
  }

  getTask(taskId: string): TaskRecord | null {
    const row = this.s.task.get(taskId);
    return row ? toTask(row) : null;
  }

  getAssignment(assignmentId: string): AssignmentRecord | null {
    const row = this.s.assignment.get(assignmentId);
    return row ? toAssignment(row) : null;
  }

  /** The public view of a job (the `GET /api/jobs/:id` body), or null. One query for all its tasks. */
  getJob(jobId: string): JobView | null {
    const job = this.s.job.get(jobId);
    if (!job) return null;
    const tasks = this.s.jobTasks
      .all(jobId)
      .map((row) => taskView(toTask(row), row.view_assigned_at, row.view_acked_at));
    return { id: job.id, status: jobStatus(tasks), createdAt: job.created_at, tasks };
  }

  counts(): TaskCounts {
    const counts: TaskCounts = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const { status, n } of this.s.counts.all()) counts[status] = n;
    return counts;
  }

  get queuedCount(): number {
    return this.queue.size;
  }

  queueDepth(): number {
    return this.queue.size;
  }

  findTask(taskId: string): TaskRecord | null {
    return this.getTask(taskId);
  }

  // ------------------------------------------------------------------ leases

  /**
   * Offers the next task (fair across jobs) to a volunteer: records an
   * `offered` assignment whose lease lasts `offerMs` (the ack timeout).
   */
  assignNext(
    volunteerId: string,
    now: number,
    offerMs: number,
  ): { task: TaskRecord; assignment: AssignmentRecord } | null {
    for (;;) {
      const next = this.queue.take((taskId) => !this.excluded.get(taskId)?.has(volunteerId));
      if (!next) return null;
      const assignmentId = newId('asg');
      let started: TaskRow | undefined;
      try {
        started = this.tx.offer(next.taskId, assignmentId, volunteerId, now, now + offerMs);
      } catch (err) {
        // Rolled back: the task is still queued in the database, so it goes back to the index.
        this.queue.pushFront(next.jobId, next.taskId);
        throw err;
      }
      if (!started) continue; // no longer queued
      const assignment = offeredAssignment(assignmentId, next.taskId, volunteerId, now, offerMs);
      return { task: toTask(started), assignment };
    }
  }

  /** The volunteer acknowledged the offer: the lease now runs `leaseMs`. Null if it had already ended. */
  ack(assignmentId: string, now: number, leaseMs: number): AssignmentRecord | null {
    const row = this.s.ack.get(now, now + leaseMs, assignmentId);
    return row ? toAssignment(row) : null;
  }

  /** Heartbeat: extends the leases this volunteer still holds. */
  renew(
    volunteerId: string,
    assignmentIds: string[],
    now: number,
    leaseMs: number,
  ): { renewed: string[]; lost: string[] } {
    const renewed: string[] = [];
    const lost: string[] = [];
    this.db.transaction(() => {
      for (const id of assignmentIds) {
        const cap = this.policy.maxAssignmentMs ?? Number.MAX_SAFE_INTEGER;
        (this.s.renew.run(now + leaseMs, cap, id, volunteerId).changes > 0 ? renewed : lost).push(id);
      }
    })();
    return { renewed, lost };
  }

  /**
   * Ends one live assignment without a result (`ack_timeout`, `volunteer_left`,
   * `lease_expired`) and puts its task back in the queue — or fails the task
   * when it has used up its attempts or its deadline.
   */
  release(assignmentId: string, outcome: ErrorCode, now: number, exclude = false): EndedLease | null {
    return this.transact(() => {
      const row = this.s.assignment.get(assignmentId);
      if (!row || (row.status !== 'offered' && row.status !== 'acked')) return null;
      const status: AssignmentStatus =
        outcome === 'lease_expired' || outcome === 'ack_timeout' ? 'lapsed' : 'released';
      this.s.endAssignment.run(status, now, outcome, null, assignmentId);
      if (exclude) this.exclude(row.task_id, row.volunteer_id);
      const task = this.requeueOrFail(row.task_id, now);
      return { assignment: this.getAssignment(assignmentId)!, task };
    });
  }

  /** A volunteer disconnected: all its leases end at once and their tasks are requeued. */
  releaseVolunteer(volunteerId: string, now: number): EndedLease[] {
    return this.releaseEach(this.s.liveForVolunteer.all(volunteerId), () => 'volunteer_left', now);
  }

  /** Lease checker: every lease not renewed in time lapses. */
  lapseExpired(now: number, limit = 1000): EndedLease[] {
    return this.releaseEach(
      this.s.expired.all(now, limit),
      (a) => (a.status === 'offered' ? 'ack_timeout' : 'lease_expired'),
      now,
    );
  }

  /** Releases each in its own transaction; if one fails, throws PartialBatchError with those already ended. */
  private releaseEach(rows: AssignmentRow[], outcome: (a: AssignmentRow) => ErrorCode, now: number) {
    const ended: EndedLease[] = [];
    for (const a of rows) {
      try {
        const e = this.release(a.id, outcome(a), now);
        if (e) ended.push(e);
      } catch (err) {
        throw new PartialBatchError(ended, err);
      }
    }
    return ended;
  }

  /** Whether any task refers to this image (a failed upload removes only blobs nobody uses). */
  isImageReferenced(sha256: string): boolean {
    return this.s.imageUsed.get(sha256) !== undefined;
  }

  /**
   * Pushes every live lease's expiry back by `ms`: used when the server itself
   * stalled, so volunteers are not blamed for renewals it could not read.
   */
  extendLiveLeases(ms: number): void {
    this.s.extendLive.run(ms);
  }

  /**
   * Cancels every unfinished task of a job (status `failed`, code `cancelled`) in one transaction.
   * Live leases end as `released` with outcome `cancelled`; the caller tells their volunteers.
   * Finished results are kept. Idempotent.
   */
  cancelJob(jobId: string, now: number): { tasks: TaskRecord[]; leases: AssignmentRecord[] } {
    return this.transact(() => {
      const tasks: TaskRecord[] = [];
      const leases: AssignmentRecord[] = [];
      for (const row of this.s.unfinishedOfJob.all(jobId)) {
        for (const a of this.s.liveForTask.all(row.id)) {
          this.s.endAssignment.run('released', now, 'cancelled', null, a.id);
          leases.push(this.getAssignment(a.id)!);
        }
        this.s.failTask.run(now, 'cancelled', 'cancelled by its owner', row.id);
        if (row.status === 'queued') this.onCommit(() => this.queue.remove(jobId, row.id));
        this.onCommit(() => this.excluded.delete(row.id));
        tasks.push(this.getTask(row.id)!);
      }
      return { tasks, leases };
    });
  }

  /** Queued tasks past their deadline fail (nobody could run them in time). */
  failOverdue(now: number): TaskRecord[] {
    const rows = this.s.overdueQueued.all(now - this.policy.taskDeadlineMs);
    return rows.map((row) => {
      this.s.failTask.run(
        now,
        'deadline_exceeded',
        `not done within ${this.policy.taskDeadlineMs} ms`,
        row.id,
      );
      this.queue.remove(row.job_id, row.id);
      this.excluded.delete(row.id); // exclusions live only as long as their task may run
      return this.getTask(row.id)!;
    });
  }

  /**
   * A volunteer's result. The first valid result completes the task, even from
   * a lease that already lapsed (a late result beats a re-run); replays and
   * later results are acknowledged as duplicates and change nothing.
   */
  complete(
    assignmentId: string,
    volunteerId: string,
    detections: Detection[],
    inferenceMs: number,
    now: number,
    mark: VerificationMark | 'replicate' | null = null,
  ): CompleteOutcome {
    return this.transact((): CompleteOutcome => {
      const a = this.s.assignment.get(assignmentId);
      if (!a || a.volunteer_id !== volunteerId) {
        return {
          kind: 'rejected',
          code: 'not_holder',
          message: `assignment ${assignmentId} is not held by this volunteer`,
        };
      }
      const task = toTask(this.s.task.get(a.task_id)!);
      if (task.status === 'done') return { kind: 'duplicate', task };
      if (task.status === 'failed') {
        return { kind: 'rejected', code: 'task_completed', message: `task ${task.id} already failed` };
      }
      // A replay of a result already taken (e.g. one waiting for its replica).
      if (a.status === 'completed') return { kind: 'duplicate', task };
      if (a.status === 'failed' || a.status === 'superseded') {
        return {
          kind: 'rejected',
          code: 'not_holder',
          message: `assignment ${assignmentId} has ended (${a.status})`,
        };
      }
      this.s.endAssignment.run('completed', now, null, inferenceMs, assignmentId);
      if (mark === 'replicate') {
        // Verification needs an independent replica: the task runs again, elsewhere.
        this.exclude(task.id, volunteerId);
        if (task.status === 'running' && this.s.liveForTask.all(task.id).length === 0) {
          this.s.requeueTask.run(task.id);
          this.onCommit(() => this.queue.pushFront(task.jobId, task.id));
        }
        return {
          kind: 'accepted',
          task: this.getTask(task.id)!,
          assignment: this.getAssignment(assignmentId)!,
          superseded: [],
        };
      }
      const superseded = this.finish(task, detections, assignmentId, mark, now);
      return {
        kind: 'accepted',
        task: this.getTask(task.id)!,
        assignment: this.getAssignment(assignmentId)!,
        superseded,
      };
    });
  }

  /**
   * Verification settled a task without a live assignment (the referee, or a replica that
   * arrived first): the task is done with `detections`. Null if it had already finished.
   */
  finalize(
    taskId: string,
    detections: Detection[],
    resultAssignmentId: string | null,
    mark: VerificationMark,
    now: number,
  ): { task: TaskRecord; superseded: AssignmentRecord[] } | null {
    return this.transact(() => {
      const row = this.s.task.get(taskId);
      if (!row || (row.status !== 'queued' && row.status !== 'running')) return null;
      const superseded = this.finish(toTask(row), detections, resultAssignmentId, mark, now);
      return { task: this.getTask(taskId)!, superseded };
    });
  }

  /** Marks a task done and ends the other leases on it (inside a transaction). */
  private finish(
    task: TaskRecord,
    detections: Detection[],
    resultAssignmentId: string | null,
    mark: VerificationMark | null,
    now: number,
  ): AssignmentRecord[] {
    this.s.completeTask.run(
      now,
      JSON.stringify(detections),
      resultAssignmentId,
      mark?.verification ?? null,
      mark?.agreeing ?? 1,
      task.id,
    );
    const superseded = this.s.liveForTask.all(task.id).map((other) => {
      this.s.endAssignment.run('superseded', now, 'task_completed', null, other.id);
      return toAssignment({ ...other, status: 'superseded' });
    });
    if (task.status === 'queued') this.onCommit(() => this.queue.remove(task.jobId, task.id));
    this.onCommit(() => this.excluded.delete(task.id));
    return superseded;
  }

  /** This volunteer is not offered the task again. */
  private exclude(taskId: string, volunteerId: string): void {
    this.onCommit(() => {
      let set = this.excluded.get(taskId);
      if (!set) this.excluded.set(taskId, (set = new Set()));
      set.add(volunteerId);
    });
  }

  /** Assignments whose result this volunteer got final on trust alone (no agreeing replica). */
  trustedResultsOf(volunteerId: string): string[] {
    return this.s.trustedOf.all(volunteerId).map((r) => r.id);
  }

  /** One process sees every result: `trustedResultsOf` found them all. */
  reopenElsewhere(_volunteerId: string): Promise<{ revoked: string[]; reopened: TaskRecord[] }> {
    return Promise.resolve({ revoked: [], reopened: [] });
  }

  /**
   * Backtracking (PROTOCOL.md rule V7): done tasks whose result came from one of these
   * assignments go back to the queue, with their result cleared. Returns the reopened tasks.
   */
  reopen(assignmentIds: readonly string[]): TaskRecord[] {
    return this.transact(() => {
      const reopened: TaskRecord[] = [];
      for (const id of assignmentIds) {
        const a = this.s.assignment.get(id);
        if (!a) continue;
        if (this.s.reopenTask.run(a.task_id, id).changes === 0) continue;
        const task = this.getTask(a.task_id)!;
        this.exclude(task.id, a.volunteer_id);
        this.onCommit(() => this.queue.pushFront(task.jobId, task.id));
        reopened.push(task);
      }
      return reopened;
    });
  }

  /**
   * A volunteer could not process its task (`undecodable`, …). The task is
   * retried on another volunteer, and fails with that code after
   * `maxFailureReports` such reports.
   */
  reportFailure(
    assignmentId: string,
    volunteerId: string,
    code: ErrorCode,
    message: string,
    now: number,
    counts = true,
  ): FailureOutcome {
    return this.transact((): FailureOutcome => {
      const a = this.s.assignment.get(assignmentId);
      if (!a || a.volunteer_id !== volunteerId || (a.status !== 'offered' && a.status !== 'acked')) {
        return {
          kind: 'rejected',
          code: 'not_holder',
          message: `assignment ${assignmentId} is not held by this volunteer`,
        };
      }
      this.s.endAssignment.run('failed', now, code, null, assignmentId);
      if (counts) this.s.countFailure.run(a.task_id);
      const reports = this.getTask(a.task_id)!.failureReports;
      let task: TaskRecord;
      if (counts && reports >= this.policy.maxFailureReports) {
        this.s.failTask.run(
          now,
          code,
          `${reports} volunteers reported ${code}: ${message}`.slice(0, 500),
          a.task_id,
        );
        this.onCommit(() => this.excluded.delete(a.task_id));
        task = this.getTask(a.task_id)!;
      } else {
        this.exclude(a.task_id, volunteerId);
        task = this.requeueOrFail(a.task_id, now);
      }
      return { kind: 'recorded', task, assignment: this.getAssignment(assignmentId)! };
    });
  }

  /**
   * Start-up after a crash or restart: every lease that was live is treated as
   * lapsed, running tasks go back to the queue, and the queue index is rebuilt
   * from the database in job order.
   */
  recover(now: number): { lapsed: number; queued: number } {
    let lapsed = 0;
    this.db.transaction(() => {
      for (const a of this.s.allLive.all()) {
        this.s.endAssignment.run('lapsed', now, 'lease_expired', null, a.id);
        this.s.requeueTask.run(a.task_id);
        lapsed++;
      }
      // A running task without a live assignment cannot exist, but be safe.
      this.db.prepare("UPDATE tasks SET status = 'queued' WHERE status = 'running'").run();
    })();
    for (const { id, job_id } of this.s.queuedInOrder.all()) this.queue.pushBack(job_id, id);
    return { lapsed, queued: this.queue.size };
  }

  private requeueOrFail(taskId: string, now: number): TaskRecord {
    const task = this.getTask(taskId)!;
    if (task.status !== 'running') return task;
    const live = this.s.liveForTask.all(taskId).length;
    if (live > 0) return task; // another lease still runs it
    // Assignments that returned a result (kept for verification, rule V3) are not lost attempts.
    if (task.attempts - this.s.resultsForTask.get(taskId)!.n >= this.policy.maxAttempts) {
      this.s.failTask.run(now, 'attempts_exhausted', `no result after ${task.attempts} assignments`, taskId);
    } else if (now - task.submittedAt > this.policy.taskDeadlineMs) {
      this.s.failTask.run(
        now,
        'deadline_exceeded',
        `not done within ${this.policy.taskDeadlineMs} ms`,
        taskId,
      );
    } else {
      this.s.requeueTask.run(taskId);
      this.onCommit(() => this.queue.pushFront(task.jobId, taskId));
      return this.getTask(taskId)!;
    }
    this.onCommit(() => this.excluded.delete(taskId)); // failed: it is never offered again
    return this.getTask(taskId)!;
  }

  /**
   * One transaction whose in-memory index changes (`onCommit`) apply only once
   * it has committed. A nested call joins the outer transaction.
   */
  private transact<T>(fn: () => T): T {
    if (this.afterCommit) return this.tx.run(fn) as T;
    const ops: (() => void)[] = [];
    this.afterCommit = ops;
    let result: T;
    try {
      result = this.tx.run(fn) as T;
    } finally {
      this.afterCommit = null;
    }
    for (const op of ops) op();
    return result;
  }

  /** Runs `op` after the current transaction commits (at once outside one). */
  private onCommit(op: () => void): void {
    if (this.afterCommit) this.afterCommit.push(op);
    else op();
  }
}

/**
 * The API view of one task. `assignedAt`/`ackedAt` are those of the assignment
 * that produced the result, or of the latest one.
 */
export function taskView(task: TaskRecord, assignedAt: number | null, ackedAt: number | null): TaskView {
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
    },
    attempts: task.attempts,
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage ?? '' } : null,
    verification: task.status === 'done' ? task.verification : null,
    agreeing: task.status === 'done' ? task.agreeing : 0,
  };
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
    inferenceMs: assignment?.inferenceMs ?? 0,
    latencyMs: completedAt - task.submittedAt,
    completedAt,
  };
}
