import type { Detection, ErrorCode, JobView } from '@tabgrid/protocol';
import type { Db } from '../../storage/database';
import { FairQueue } from '../fair-queue';
import { newId } from '../ids';
import {
  type AssignmentRecord,
  type CompleteOutcome,
  type EndedLease,
  type FailureOutcome,
  type NewTask,
  type RetryPolicy,
  type Settlement,
  type TaskCounts,
  type TaskRecord,
  type VerificationMark,
} from '../records';
import type { CreatedJob, DeletedJob, JobAccessFields, SchedulingStore } from '../scheduling-store';
import * as rules from '../task-rules';
import { doneTask, toAssignment, type TaskRow } from './rows';
import { GroupCommit } from './group-commit';
import { JobsTable, type InsertedTask } from './jobs-table';
import { LeaseMemory } from './lease-memory';
import { LeaseRows } from './lease-rows';
import { prepareStatements } from './statements';
import { recoverRows, releaseEach, Transactions } from './transactions';

/**
 * All scheduling state — jobs, tasks, assignments (leases) and the queue —
 * behind one module. Live leases are in memory only (`LeaseMemory`: an offer, an ack, a
 * heartbeat write nothing); a task running in memory is still `queued` in SQLite, so a restart
 * queues it again. Every other state change is one SQLite transaction, and results are staged
 * into the turn's group commit (`staged`). The in-memory FairQueue is an index over the tasks
 * that are `queued` and hold no live lease.
 * One process; several gateways share `store/redis/` instead (same interface, same contract).
 *
 * The index only changes after the transaction that justifies it has committed
 * (`Transactions`): a write that fails (SQLITE_BUSY, SQLITE_FULL, …) leaves both the database
 * and the index as they were, so no queued task can drop out of the index. Task states: see
 * ARCHITECTURE.md, "Life of a task".
 */
export class SchedulerStore implements SchedulingStore {
  /** Fair across requesters first, then across each requester's jobs. */
  private readonly queue = new FairQueue((jobId) => this.s.jobOwner.get(jobId)?.owner ?? '');
  /**
   * Volunteers a task is not offered to again (rule V6). Bound: entries of unfinished tasks only
   * (every path that finishes a task, done or failed, drops its entry).
   */
  private readonly excluded = new Map<string, Set<string>>();
  private readonly s;
  /** Transactions whose index changes apply once committed. */
  readonly txs;
  private readonly jobs;
  /** The live leases (offered, acked), in memory only; read by `SqliteJobAccess` (running per job). */
  readonly leases = new LeaseMemory();
  /** One transaction per event-loop turn for what must be durable (results, ledger entries). */
  readonly group;
  private readonly rows;

  constructor(
    private readonly db: Db,
    private readonly policy: RetryPolicy,
  ) {
    this.s = prepareStatements(db);
    this.txs = new Transactions(db);
    this.group = new GroupCommit(this.txs);
    this.jobs = new JobsTable(db, this.s, this.leases);
    this.rows = new LeaseRows(this.s, this.txs, this.leases);
  }

  /** `stage` in this turn's one transaction, resolved once committed (group-commit.ts). */
  staged<T>(keys: readonly string[], stage: () => T): Promise<T> {
    return this.group.stage(keys, stage);
  }

  // ------------------------------------------------------------------ jobs

  /**
   * Records a job and its tasks (all queued) in one transaction, fsynced before it returns.
   * `access` names the requester (key name) that owns it and whether its results are public.
   */
  async createJob(
    tasks: NewTask[],
    now: number,
    access: JobAccessFields = { owner: '', isPublic: false },
  ): Promise<CreatedJob> {
    const { jobId, created } = this.jobs.insert(tasks, now, access);
    return this.enqueue(jobId, created);
  }

  /** Adds tasks (all queued) to an existing job the caller checked is open; fsynced before it returns. */
  async appendTasks(jobId: string, tasks: NewTask[], now: number): Promise<CreatedJob> {
    return this.enqueue(jobId, this.jobs.append(jobId, tasks, now));
  }

  /** New tasks, committed, join the queue index in upload order. */
  private enqueue(jobId: string, created: InsertedTask[]): CreatedJob {
    for (const t of created) this.queue.pushBack(jobId, t.id);
    return { id: jobId, tasks: created.map((t) => ({ id: t.id, name: t.name })) };
  }

  getTask(taskId: string): TaskRecord | null {
    const row = this.s.task.get(taskId);
    return row ? this.rows.task(row) : null;
  }

  getAssignment(assignmentId: string): AssignmentRecord | null {
    const live = this.leases.get(assignmentId);
    if (live) return live;
    const row = this.s.assignment.get(assignmentId);
    return row ? toAssignment(row) : null;
  }

  /** The public view of a job (the `GET /api/jobs/:id` body), or null. */
  async getJob(jobId: string): Promise<JobView | null> {
    return this.jobs.view(jobId);
  }

  async counts(): Promise<TaskCounts> {
    return this.jobs.counts();
  }

  /** Unfinished tasks with exclusions kept in memory (see `excluded`). */
  get exclusionsKept(): number {
    return this.excluded.size;
  }

  get queuedCount(): number {
    return this.queue.size;
  }

  async queueDepth(): Promise<number> {
    return this.queue.size;
  }

  async findTask(taskId: string): Promise<TaskRecord | null> {
    return this.getTask(taskId);
  }

  markDeleted(jobId: string, now: number): Promise<DeletedJob> {
    return Promise.resolve(this.jobs.markDeleted(jobId, now));
  }

  adoptOrphans(owner: string): Promise<number> {
    return Promise.resolve(this.jobs.adoptOrphans(owner));
  }

  markCancelled(jobId: string, now: number): Promise<number> {
    return Promise.resolve(this.jobs.markCancelled(jobId, now));
  }

  setExpected(jobId: string, expected: number): Promise<void> {
    return Promise.resolve(this.jobs.setExpected(jobId, expected));
  }

  // ------------------------------------------------------------------ leases

  /**
   * Offers the next task to a volunteer (fair across requesters, then across each requester's
   * jobs; never one it is excluded from): an `offered` assignment whose lease lasts `offerMs`
   * (the ack timeout), in memory (nothing is written).
   */
  assignNext(
    volunteerId: string,
    now: number,
    offerMs: number,
    skip?: (taskId: string) => boolean,
  ): { task: TaskRecord; assignment: AssignmentRecord } | null {
    for (;;) {
      const next = this.queue.take((id) => !this.excluded.get(id)?.has(volunteerId) && !skip?.(id));
      if (!next) return null;
      let row: TaskRow | undefined;
      try {
        row = this.s.task.get(next.taskId);
      } catch (err) {
        this.queue.pushFront(next.jobId, next.taskId); // still queued: back to the index
        throw err;
      }
      if (!row || row.status !== 'queued') continue; // no longer queued
      const assignment = rules.offeredAssignment(newId('asg'), next.taskId, volunteerId, now, offerMs);
      this.leases.add(assignment, row.job_id);
      return { task: this.rows.task(row), assignment };
    }
  }

  /** The replica of a task just offered (running in memory), offered at once to another volunteer (rule V3). */
  assignReplica(taskId: string, volunteerId: string, now: number, offerMs: number) {
    if (this.excludes(taskId, volunteerId) || this.leases.countForTask(taskId) === 0) return null;
    const row = this.s.task.get(taskId);
    if (!row || row.status !== 'queued') return null; // finished meanwhile
    const assignment = rules.offeredAssignment(newId('asg'), taskId, volunteerId, now, offerMs);
    this.leases.add(assignment, row.job_id);
    return { task: this.rows.task(row), assignment };
  }

  /** The volunteer acknowledged the offer: the lease now runs `leaseMs`. Null if it had already ended. */
  ack(assignmentId: string, now: number, leaseMs: number, sentAt?: number): AssignmentRecord | null {
    return this.leases.ack(assignmentId, now, leaseMs, sentAt) ?? null;
  }

  excludes(taskId: string, volunteerId: string): boolean {
    return this.excluded.get(taskId)?.has(volunteerId) ?? false;
  }

  /** One process: every volunteer that can take a task is connected here. */
  readonly shared = false;

  /** Heartbeat: extends the leases this volunteer still holds. */
  renew(
    volunteerId: string,
    assignmentIds: string[],
    now: number,
    leaseMs: number,
  ): { renewed: string[]; lost: string[] } {
    // Capped at assignedAt + maxAssignmentMs: heartbeats cannot hold a task forever.
    const cap = this.policy.maxAssignmentMs ?? Number.MAX_SAFE_INTEGER;
    return this.leases.renew(volunteerId, assignmentIds, now + leaseMs, cap);
  }

  /**
   * Ends one live assignment without a result (`ack_timeout`, `volunteer_left`,
   * `lease_expired`) and puts its task back in the queue — or fails the task
   * when it has used up its attempts or its deadline.
   */
  release(assignmentId: string, outcome: ErrorCode, now: number, exclude = false): EndedLease | null {
    return this.txs.run(() => {
      const a = this.leases.get(assignmentId);
      if (!a) return null;
      const ended = this.rows.end(a, rules.endedLeaseStatus(outcome), now, outcome, null);
      if (exclude) this.exclude(a.taskId, a.volunteerId);
      const task = this.requeueOrFail(a.taskId, now);
      return { assignment: ended, task };
    });
  }

  /** A volunteer disconnected: all its leases end at once and their tasks are requeued. */
  releaseVolunteer(volunteerId: string, now: number): EndedLease[] {
    const rows = this.leases.forVolunteer(volunteerId);
    return releaseEach(rows, (a) => this.release(a.id, 'volunteer_left', now));
  }

  /** Lease checker: every lease not renewed in time lapses. */
  lapseExpired(now: number, limit = 1000): EndedLease[] {
    const rows = this.leases.expired(now, limit);
    return releaseEach(rows, (a) => this.release(a.id, rules.lapseOutcome(a.status), now));
  }

  /** Whether any task refers to this image (a failed upload removes only blobs nobody uses). */
  async isImageReferenced(sha256: string): Promise<boolean> {
    return this.s.imageUsed.get(sha256) !== undefined;
  }

  /**
   * Pushes every live lease's expiry back by `ms`: used when the server itself
   * stalled, so volunteers are not blamed for renewals it could not read.
   */
  extendLiveLeases(ms: number): void {
    this.leases.extend(ms);
  }

  /**
   * Cancels every unfinished task of a job (status `failed`, code `cancelled`) in one transaction.
   * Live leases end as `released` with outcome `cancelled`; the caller tells their volunteers.
   * Finished results are kept. Idempotent.
   */
  cancelJob(jobId: string, now: number): { tasks: TaskRecord[]; leases: AssignmentRecord[] } {
    return this.txs.run(() => {
      const tasks: TaskRecord[] = [];
      const leases: AssignmentRecord[] = [];
      for (const row of this.s.unfinishedOfJob.all(jobId)) {
        const live = this.leases.forTask(row.id);
        for (const a of live) leases.push(this.rows.end(a, 'released', now, 'cancelled', null));
        this.s.failTask.run(now, rules.CANCELLED.code, rules.CANCELLED.message, row.id);
        if (live.length === 0) this.txs.onCommit(() => this.queue.remove(jobId, row.id));
        this.txs.onCommit(() => this.excluded.delete(row.id));
        tasks.push(this.getTask(row.id)!);
      }
      return { tasks, leases };
    });
  }

  /** The referee could not decode or run the task (rule T13): it fails, its live leases end. */
  failTask(
    taskId: string,
    failure: rules.TaskFailure,
    now: number,
  ): { task: TaskRecord; leases: AssignmentRecord[] } | null {
    return this.txs.run(() => {
      const row = this.s.task.get(taskId);
      if (!row || (row.status !== 'queued' && row.status !== 'running')) return null;
      const live = this.leases.forTask(taskId);
      const leases = live.map((a) => this.rows.end(a, 'released', now, failure.code, null));
      this.s.failTask.run(now, failure.code, failure.message, taskId);
      if (live.length === 0) this.txs.onCommit(() => this.queue.remove(row.job_id, taskId));
      this.txs.onCommit(() => this.excluded.delete(taskId));
      return { task: this.getTask(taskId)!, leases };
    });
  }

  /** Queued tasks past their deadline fail (nobody could run them in time). */
  failOverdue(now: number): TaskRecord[] {
    const rows = this.s.overdueQueued.all(now - this.policy.taskDeadlineMs);
    const { code, message } = rules.deadlineFailure(this.policy);
    // A task running in memory is `queued` in SQLite: not overdue while a lease holds it.
    return rows
      .filter((row) => this.leases.countForTask(row.id) === 0)
      .map((row) => {
        this.s.failTask.run(now, code, message, row.id);
        this.queue.remove(row.job_id, row.id);
        this.excluded.delete(row.id);
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
    return this.txs.run((): CompleteOutcome => {
      const a = this.getAssignment(assignmentId);
      const task = a ? this.getTask(a.taskId) : null;
      const gate = rules.resultGate(assignmentId, volunteerId, a, task);
      if (gate.kind === 'duplicate') return { kind: 'duplicate', task: task! };
      if (gate.kind !== 'take') return gate;
      if (!task || !a) return rules.notHolder(assignmentId);
      const live = this.leases.get(assignmentId);
      // A live lease's row is written now, with its result; a late result from a lapsed one updates its row.
      const ended = live ? this.rows.end(live, 'completed', now, null, inferenceMs) : null;
      if (!live) this.s.endAssignment.run('completed', now, null, inferenceMs, assignmentId);
      // The row just written (a live lease), else read back (COALESCE kept a lapsed one's time).
      const assignment = () => ended ?? this.getAssignment(assignmentId)!;
      if (mark === 'replicate') {
        // Verification needs an independent replica: the task runs again, elsewhere.
        this.exclude(task.id, volunteerId);
        if (task.status === 'running' && this.leases.countForTask(task.id) === 0) {
          this.txs.onCommit(() => this.queue.pushFront(task.jobId, task.id));
        }
        return { kind: 'accepted', task: this.getTask(task.id)!, assignment: assignment(), superseded: [] };
      }
      const { done, superseded } = this.finish(task, detections, assignmentId, mark, now);
      return { kind: 'accepted', task: done, assignment: assignment(), superseded };
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
    settlement: Settlement = {},
  ): { task: TaskRecord; superseded: AssignmentRecord[] } | null {
    return this.txs.run(() => {
      const task = this.getTask(taskId);
      if (!task || (task.status !== 'queued' && task.status !== 'running')) return null;
      const refereeMs = settlement.refereeMs ?? null;
      const { done, superseded } = this.finish(task, detections, resultAssignmentId, mark, now, refereeMs);
      this.rows.verdicts(settlement);
      return { task: done, superseded };
    });
  }

  /** Marks a task done and ends the other leases on it (inside a transaction); returns it as written. */
  private finish(
    task: TaskRecord,
    detections: Detection[],
    resultAssignmentId: string | null,
    mark: VerificationMark | null,
    now: number,
    refereeMs: number | null = null,
  ): { done: TaskRecord; superseded: AssignmentRecord[] } {
    const { verification, agreeing, pair } = rules.resultMark(mark);
    const json = JSON.stringify(detections);
    const columns = [now, json, resultAssignmentId, verification, agreeing, pair, refereeMs] as const;
    const { changes } = this.s.completeTask.run(...columns, task.id);
    const superseded = this.leases
      .forTask(task.id)
      .map((other) => this.rows.end(other, 'superseded', now, 'task_completed', null));
    if (task.status === 'queued') this.txs.onCommit(() => this.queue.remove(task.jobId, task.id));
    this.txs.onCommit(() => this.excluded.delete(task.id));
    // The row as written, not read back (a result's hot path); read if it was not written.
    const done =
      changes === 1 ? doneTask(task, now, json, resultAssignmentId, verification, agreeing, refereeMs) : null;
    return { done: done ?? this.getTask(task.id)!, superseded };
  }

  /** This volunteer is not offered the task again. */
  private exclude(taskId: string, volunteerId: string): void {
    this.txs.onCommit(() => {
      let set = this.excluded.get(taskId);
      if (!set) this.excluded.set(taskId, (set = new Set()));
      set.add(volunteerId);
    });
  }

  /** Assignments of this volunteer whose result a done task published, however verified. */
  publishedResultsOf(volunteerId: string): string[] {
    return this.s.publishedOf.all(volunteerId).map((r) => r.id);
  }

  /** One process sees every result: `publishedResultsOf` found them all. */
  reopenElsewhere(_volunteerId: string): Promise<{ revoked: string[]; reopened: TaskRecord[] }> {
    return Promise.resolve({ revoked: [], reopened: [] });
  }

  /**
   * Backtracking (PROTOCOL.md rule V7): done tasks whose result came from one of these
   * assignments go back to the queue, with their result cleared. Returns the reopened tasks.
   */
  reopen(assignmentIds: readonly string[]): TaskRecord[] {
    return this.txs.run(() => {
      const reopened: TaskRecord[] = [];
      for (const id of assignmentIds) {
        const a = this.s.assignment.get(id);
        if (!a) continue;
        if (this.s.reopenTask.run(a.task_id, id).changes === 0) continue;
        const task = this.getTask(a.task_id)!;
        this.exclude(task.id, a.volunteer_id);
        this.txs.onCommit(() => this.queue.pushFront(task.jobId, task.id));
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
    return this.txs.run((): FailureOutcome => {
      const live = this.leases.get(assignmentId);
      if (live?.volunteerId !== volunteerId) return rules.notHolder(assignmentId);
      const ended = this.rows.end(live, 'failed', now, code, null);
      const a = { task_id: live.taskId };
      if (counts) this.s.countFailure.run(a.task_id);
      const reports = this.getTask(a.task_id)!.failureReports;
      const failure = rules.afterFailureReport(reports, counts, code, message, this.policy);
      let task: TaskRecord;
      if (failure) {
        this.s.failTask.run(now, failure.code, failure.message, a.task_id);
        this.txs.onCommit(() => this.excluded.delete(a.task_id));
        task = this.getTask(a.task_id)!;
      } else {
        this.exclude(a.task_id, volunteerId);
        task = this.requeueOrFail(a.task_id, now);
      }
      return { kind: 'recorded', task, assignment: ended };
    });
  }

  /** Start-up after a crash or restart (`recoverRows`), then the queue index rebuilt in job order. */
  recover(now: number): { lapsed: number; queued: number } {
    const lapsed = recoverRows(this.db, this.s, now);
    for (const { id, job_id } of this.s.queuedInOrder.all()) this.queue.pushBack(job_id, id);
    return { lapsed, queued: this.queue.size };
  }

  /** After a lease ended: its task goes back to the queue (or fails) unless another lease still runs it. */
  private requeueOrFail(taskId: string, now: number): TaskRecord {
    const task = this.getTask(taskId)!;
    if (task.status !== 'queued' && task.status !== 'running') return task;
    if (this.leases.countForTask(taskId) > 0) return task; // another lease still runs it
    const failure = rules.afterLastLease(task, this.s.resultsForTask.get(taskId)!.n, this.policy, now);
    if (failure) {
      this.s.failTask.run(now, failure.code, failure.message, taskId);
      this.txs.onCommit(() => this.excluded.delete(taskId));
    } else {
      this.txs.onCommit(() => this.queue.pushFront(task.jobId, taskId));
    }
    return this.getTask(taskId)!;
  }
}
