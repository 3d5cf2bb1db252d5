import type { Detection, ErrorCode } from '@tabgrid/protocol';
import { FairQueue } from '../fair-queue';
import { newId } from '../ids';
import type { TaskStore } from '../task-store';
import type {
  AssignmentRecord,
  CompleteOutcome,
  EndedLease,
  FailureOutcome,
  RetryPolicy,
  Settlement,
  TaskRecord,
  VerificationMark,
} from '../records';
import * as rules from '../task-rules';
import type { CacheSink, PutOptions } from './cache-sink';
import { JobOwners } from './job-owners';
import { Leases } from './leases';
import { recordOf, type StoredTask } from './stored-task';

/** How many finished tasks stay in memory (duplicate results, backtracking). */
const RETAIN_FINISHED = 20_000;

/**
 * The gateway's share of the task stream, in memory: the tasks it claimed (queued locally in a
 * FairQueue) and every volunteer lease on them. Implements the synchronous `TaskStore` the
 * scheduler calls; nothing here waits for Redis — each change goes to the `CacheSink`, which
 * writes it behind. Results are final in Redis only once the sink stored them (write-once).
 */
export class LocalCache implements TaskStore {
  private readonly tasks = new Map<string, StoredTask>();
  private readonly leases = new Leases();
  private readonly owners = new JobOwners();
  private readonly queue = new FairQueue((jobId) => this.owners.ownerOf(jobId));
  /** Stream entry per cached task (acked once its final state is stored). */
  private readonly entries = new Map<string, string>();
  /** Unfinished cached tasks (queued or running). */
  private readonly active = new Set<string>();
  /** Finished tasks kept for a while, oldest first. */
  private readonly finished = new Set<string>();
  /** Volunteer → assignment ids whose result a done task published (any verification, rule V7). */
  private readonly trusted = new Map<string, Set<string>>();

  constructor(
    private readonly policy: RetryPolicy,
    private readonly sink: CacheSink,
  ) {}

  get queuedCount(): number {
    return this.queue.size;
  }

  /** Unfinished tasks this gateway holds (what it has claimed and not yet finished). */
  get unfinishedCount(): number {
    return this.active.size;
  }

  /**
   * A task claimed from the stream: `cached`, or `final` (done or failed: nothing to run, ack
   * the entry), or `duplicate` (a second entry for a task cached here: ack it). A task that was
   * `running` elsewhere lost its lease with its gateway: it is queued again here. `lapsed` tells.
   */
  admit(task: StoredTask, entryId: string, owner: string): 'cached' | 'lapsed' | 'final' | 'duplicate' {
    // Reopened elsewhere since it finished here (backtracking): the copy in memory is stale.
    const held = this.tasks.get(task.id);
    if (held && this.finished.has(task.id) && (task.reopened ?? 0) > (held.reopened ?? 0))
      this.forget(task.id);
    // Finished here (its final state may not be stored yet): nothing to run again.
    if (task.status === 'done' || task.status === 'failed' || this.finished.has(task.id)) return 'final';
    if (this.active.has(task.id)) return this.entries.get(task.id) === entryId ? 'cached' : 'duplicate';
    this.owners.hold(task.jobId, owner);
    const t: StoredTask = { ...task, excluded: [...task.excluded] };
    this.tasks.set(t.id, t);
    this.entries.set(t.id, entryId);
    this.active.add(t.id);
    this.finished.delete(t.id);
    if (t.status === 'running') {
      t.status = 'queued';
      this.sink.put(t);
      this.queue.pushFront(t.jobId, t.id);
      return 'lapsed';
    }
    this.queue.pushBack(t.jobId, t.id);
    return 'cached';
  }

  /** The jobs whose unfinished tasks this gateway holds (queued or running here). */
  *heldJobs(): Generator<string> {
    for (const id of this.active) yield this.tasks.get(id)!.jobId;
  }

  /** A cached task's latest state, written to Redis or not (views overlay it). */
  peek(taskId: string): StoredTask | undefined {
    return this.tasks.get(taskId);
  }

  /**
   * Takes up to `n` queued tasks out of this gateway (surplus): they go back to the stream. Tasks
   * waiting for a verification replica stay (their first result is known only here).
   */
  giveBack(n: number): number {
    let given = 0;
    while (given < n) {
      const next = this.queue.take((taskId) => this.leases.results(taskId) === 0);
      if (!next) break;
      const task = this.tasks.get(next.taskId)!;
      this.sink.put(task, { enqueue: true, ackEntry: this.entries.get(task.id) });
      this.forget(task.id);
      given++;
    }
    return given;
  }

  assignNext(
    volunteerId: string,
    now: number,
    offerMs: number,
    skip?: (taskId: string) => boolean,
  ): { task: TaskRecord; assignment: AssignmentRecord } | null {
    const next = this.queue.take((id) => !this.tasks.get(id)!.excluded.includes(volunteerId) && !skip?.(id));
    if (!next) return null;
    const task = this.tasks.get(next.taskId)!;
    task.status = 'running';
    task.view = { assignedAt: now, ackedAt: null, inferenceMs: null, volunteerId };
    return this.offer(task, volunteerId, now, offerMs);
  }

  /**
   * The replica of a task just offered here (running, a live lease on it), offered at once to
   * another volunteer of this gateway (rule V3): the pair meets where its first result is judged.
   */
  assignReplica(taskId: string, volunteerId: string, now: number, offerMs: number) {
    const task = this.tasks.get(taskId);
    if (task?.status !== 'running' || task.excluded.includes(volunteerId)) return null;
    return this.leases.liveOf(taskId).length > 0 ? this.offer(task, volunteerId, now, offerMs) : null;
  }

  ack(assignmentId: string, now: number, leaseMs: number, sentAt?: number): AssignmentRecord | null {
    const a = this.leases.get(assignmentId);
    if (!a || a.status !== 'offered') return null;
    const task = this.tasks.get(a.taskId)!;
    const shown = task.view.assignedAt === a.assignedAt && task.view.volunteerId === a.volunteerId;
    a.status = 'acked';
    a.ackedAt = now;
    a.leaseExpiresAt = now + leaseMs;
    if (sentAt !== undefined) a.assignedAt = sentAt;
    if (shown) {
      task.view = { ...task.view, assignedAt: a.assignedAt, ackedAt: now };
      this.sink.put(task);
    }
    return { ...a };
  }

  excludes(taskId: string, volunteerId: string): boolean {
    return this.tasks.get(taskId)?.excluded.includes(volunteerId) ?? false;
  }

  /** Other gateways' volunteers take the shared queue's tasks too. */
  readonly shared: boolean = true;

  renew(
    volunteerId: string,
    assignmentIds: string[],
    now: number,
    leaseMs: number,
  ): { renewed: string[]; lost: string[] } {
    const renewed: string[] = [];
    const lost: string[] = [];
    const cap = this.policy.maxAssignmentMs ?? Number.MAX_SAFE_INTEGER;
    for (const id of assignmentIds) {
      const a = this.leases.get(id);
      if (!a || !this.leases.isLive(id) || a.volunteerId !== volunteerId) {
        lost.push(id);
        continue;
      }
      a.leaseExpiresAt = Math.min(now + leaseMs, a.assignedAt + cap);
      renewed.push(id);
    }
    return { renewed, lost };
  }

  release(assignmentId: string, outcome: ErrorCode, now: number, exclude = false): EndedLease | null {
    const a = this.leases.get(assignmentId);
    if (!a || !this.leases.isLive(assignmentId)) return null;
    this.leases.end(a, rules.endedLeaseStatus(outcome), now, outcome);
    const task = this.tasks.get(a.taskId)!;
    if (exclude) this.exclude(task, a.volunteerId);
    this.requeueOrFail(task, now);
    return { assignment: { ...a }, task: recordOf(task) };
  }

  releaseVolunteer(volunteerId: string, now: number): EndedLease[] {
    return this.leases.liveIdsOf(volunteerId).flatMap((id) => this.release(id, 'volunteer_left', now) ?? []);
  }

  lapseExpired(now: number, limit = 1000): EndedLease[] {
    const expired: AssignmentRecord[] = [];
    for (const a of this.leases.allLive()) {
      if (a.leaseExpiresAt < now) expired.push(a);
      if (expired.length >= limit) break;
    }
    return expired.flatMap((a) => this.release(a.id, rules.lapseOutcome(a.status), now) ?? []);
  }

  extendLiveLeases(ms: number): void {
    for (const a of this.leases.allLive()) a.leaseExpiresAt += ms;
  }

  failOverdue(now: number): TaskRecord[] {
    const failed: TaskRecord[] = [];
    for (const id of this.active) {
      const task = this.tasks.get(id)!;
      if (task.status !== 'queued' || !rules.isOverdue(task, this.policy, now)) continue;
      this.queue.remove(task.jobId, task.id);
      this.fail(task, rules.deadlineFailure(this.policy), now);
      failed.push(recordOf(task));
    }
    return failed;
  }

  /** The cached part of a cancel; the store cancels the rest of the job in Redis. */
  cancelJob(jobId: string, now: number): { tasks: TaskRecord[]; leases: AssignmentRecord[] } {
    const tasks: TaskRecord[] = [];
    const leases: AssignmentRecord[] = [];
    for (const id of [...this.active]) {
      const task = this.tasks.get(id)!;
      if (task.jobId !== jobId) continue;
      for (const a of this.leases.liveOf(task.id)) {
        this.leases.end(a, 'released', now, 'cancelled');
        leases.push({ ...a });
      }
      if (task.status === 'queued') this.queue.remove(jobId, task.id);
      this.fail(task, rules.CANCELLED, now);
      tasks.push(recordOf(task));
    }
    return { tasks, leases };
  }

  /** The referee could not decode or run the task (rule T13): it fails, its live leases end. */
  failTask(
    taskId: string,
    failure: rules.TaskFailure,
    now: number,
  ): { task: TaskRecord; leases: AssignmentRecord[] } | null {
    const task = this.tasks.get(taskId);
    if (!task || !this.active.has(taskId)) return null;
    const leases = this.leases
      .liveOf(taskId)
      .map((a) => (this.leases.end(a, 'released', now, failure.code), { ...a }));
    if (task.status === 'queued') this.queue.remove(task.jobId, task.id);
    this.fail(task, failure, now);
    return { task: recordOf(task), leases };
  }

  getTask(taskId: string): TaskRecord | null {
    const task = this.tasks.get(taskId);
    return task ? recordOf(task) : null;
  }

  getAssignment(assignmentId: string): AssignmentRecord | null {
    const a = this.leases.get(assignmentId);
    return a ? { ...a } : null;
  }

  complete(
    assignmentId: string,
    volunteerId: string,
    detections: Detection[],
    inferenceMs: number,
    now: number,
    mark: VerificationMark | 'replicate' | null = null,
  ): CompleteOutcome {
    const a = this.leases.get(assignmentId);
    const task = a ? this.tasks.get(a.taskId) : undefined;
    const gate = rules.resultGate(assignmentId, volunteerId, a ?? null, task ?? null);
    if (gate.kind === 'duplicate') return { kind: 'duplicate', task: recordOf(task!) };
    if (gate.kind !== 'take') return gate;
    if (!a || !task) return rules.notHolder(assignmentId);
    this.leases.end(a, 'completed', now, null, inferenceMs);
    if (mark === 'replicate') {
      // Verification needs an independent replica: the task runs again, elsewhere.
      this.exclude(task, volunteerId);
      if (task.status === 'running' && this.leases.liveOf(task.id).length === 0) {
        task.status = 'queued';
        this.queue.pushFront(task.jobId, task.id);
      }
      this.sink.put(task);
      return { kind: 'accepted', task: recordOf(task), assignment: { ...a }, superseded: [] };
    }
    const superseded = this.finish(task, detections, assignmentId, mark, now);
    return { kind: 'accepted', task: recordOf(task), assignment: { ...a }, superseded };
  }

  finalize(
    taskId: string,
    detections: Detection[],
    resultAssignmentId: string | null,
    mark: VerificationMark,
    now: number,
    // The verdicts serve SQLite's ledger recovery; the Redis ledger is written by the keeper alone.
    { refereeMs = null }: Settlement = {},
  ): { task: TaskRecord; superseded: AssignmentRecord[] } | null {
    const task = this.tasks.get(taskId);
    if (!task || (task.status !== 'queued' && task.status !== 'running')) return null;
    if (refereeMs !== null) task.refereeMs = refereeMs; // the referee's own result (V8)
    const superseded = this.finish(task, detections, resultAssignmentId, mark, now);
    return { task: recordOf(task), superseded };
  }

  /** Whether this gateway holds the assignment in memory (its backtracking is local). */
  protected holds(assignmentId: string): boolean {
    return this.leases.has(assignmentId);
  }

  /** Nothing beyond memory here; `RedisSchedulingStore` searches the shared index. */
  reopenElsewhere(_volunteerId: string): Promise<{ revoked: string[]; reopened: TaskRecord[] }> {
    return Promise.resolve({ revoked: [], reopened: [] });
  }

  publishedResultsOf(volunteerId: string): string[] {
    return [...(this.trusted.get(volunteerId) ?? [])].filter((id) => {
      const a = this.leases.get(id);
      const task = a && this.tasks.get(a.taskId);
      return !task || (task.status === 'done' && publishes(task, id));
    });
  }

  /**
   * Backtracking: a reopened task is cleared and handed back to the stream (a new entry), so any
   * gateway may run it again; its exclusions travel with it.
   */
  reopen(assignmentIds: readonly string[]): TaskRecord[] {
    const reopened: TaskRecord[] = [];
    for (const id of assignmentIds) {
      const a = this.leases.get(id);
      const task = a && this.tasks.get(a.taskId);
      if (!a || !task || task.status !== 'done' || !publishes(task, id)) continue;
      this.trusted.get(a.volunteerId)?.delete(id);
      task.status = 'queued';
      task.completedAt = null;
      task.detections = null;
      task.resultAssignmentId = null;
      task.pairAssignmentId = null;
      task.verification = null;
      task.agreeing = 0;
      task.reopened = (task.reopened ?? 0) + 1;
      this.exclude(task, a.volunteerId);
      this.sink.put(task, { force: true, enqueue: true });
      reopened.push(recordOf(task));
      this.forget(task.id);
    }
    return reopened;
  }

  reportFailure(
    assignmentId: string,
    volunteerId: string,
    code: ErrorCode,
    message: string,
    now: number,
    counts = true,
  ): FailureOutcome {
    const a = this.leases.get(assignmentId);
    if (!a || a.volunteerId !== volunteerId || !this.leases.isLive(assignmentId))
      return rules.notHolder(assignmentId);
    this.leases.end(a, 'failed', now, code);
    const task = this.tasks.get(a.taskId)!;
    if (counts) task.failureReports++;
    const failure = rules.afterFailureReport(task.failureReports, counts, code, message, this.policy);
    if (failure) {
      this.queue.remove(task.jobId, task.id);
      this.fail(task, failure, now);
    } else {
      this.exclude(task, volunteerId);
      this.requeueOrFail(task, now);
      this.sink.put(task);
    }
    return { kind: 'recorded', task: recordOf(task), assignment: { ...a } };
  }

  // ------------------------------------------------------------------ internals

  /** A new live lease on a running task: an attempt, written behind. */
  private offer(task: StoredTask, volunteerId: string, now: number, offerMs: number) {
    const a = rules.offeredAssignment(newId('asg'), task.id, volunteerId, now, offerMs);
    this.leases.add(a);
    task.attempts++;
    this.sink.put(task);
    return { task: recordOf(task), assignment: { ...a } };
  }

  private exclude(task: StoredTask, volunteerId: string): void {
    if (!task.excluded.includes(volunteerId)) task.excluded.push(volunteerId);
  }

  private requeueOrFail(task: StoredTask, now: number): void {
    if (task.status !== 'running' || this.leases.liveOf(task.id).length > 0) return;
    const failure = rules.afterLastLease(task, this.leases.results(task.id), this.policy, now);
    if (failure) {
      this.fail(task, failure, now);
    } else {
      task.status = 'queued';
      this.queue.pushFront(task.jobId, task.id);
      this.sink.put(task);
    }
  }

  private fail(task: StoredTask, failure: rules.TaskFailure, now: number): void {
    task.status = 'failed';
    task.completedAt = now;
    task.errorCode = failure.code;
    task.errorMessage = failure.message;
    this.retire(task);
  }

  private finish(
    task: StoredTask,
    detections: Detection[],
    resultAssignmentId: string | null,
    mark: VerificationMark | null,
    now: number,
  ): AssignmentRecord[] {
    if (task.status === 'queued') this.queue.remove(task.jobId, task.id);
    const superseded = this.leases.liveOf(task.id).map((other) => {
      this.leases.end(other, 'superseded', now, 'task_completed');
      return { ...other };
    });
    const by = resultAssignmentId ? this.leases.get(resultAssignmentId) : undefined;
    task.status = 'done';
    task.completedAt = now;
    task.detections = [...detections];
    task.resultAssignmentId = resultAssignmentId;
    const { verification, agreeing, pair } = rules.resultMark(mark);
    task.pairAssignmentId = pair;
    task.verification = verification;
    task.agreeing = agreeing;
    if (by) {
      task.view = {
        assignedAt: by.assignedAt,
        ackedAt: by.ackedAt,
        inferenceMs: by.inferenceMs,
        volunteerId: by.volunteerId,
      };
      if (mark) {
        // Both results of a pair are in the mean it publishes: either one's sender may be caught.
        const partner = pair ? this.leases.get(pair) : undefined;
        this.retire(
          task,
          [by, ...(partner ? [partner] : [])].map((a) => this.index(task, a)),
        );
        return superseded;
      }
    }
    this.retire(task);
    return superseded;
  }

  /** A published result, indexed under its volunteer (here, and in Redis with the task's write). */
  private index(task: StoredTask, a: AssignmentRecord): NonNullable<PutOptions['trusted']>[number] {
    let set = this.trusted.get(a.volunteerId);
    if (!set) this.trusted.set(a.volunteerId, (set = new Set()));
    set.add(a.id);
    return { volunteerId: a.volunteerId, jobId: task.jobId, taskId: task.id, assignmentId: a.id };
  }

  /** A finished task: written once (its entry acked after), kept a while for late duplicates. */
  private retire(task: StoredTask, trusted?: PutOptions['trusted']): void {
    this.sink.put(task, { ackEntry: this.entries.get(task.id), trusted });
    this.deactivate(task);
    this.entries.delete(task.id);
    this.finished.add(task.id);
    this.released();
    if (this.finished.size > RETAIN_FINISHED) {
      const oldest = this.finished.values().next().value as string;
      this.forget(oldest);
    }
  }

  /** The task is no longer unfinished here; its job's owner goes with the job's last one. */
  private deactivate(task: StoredTask): boolean {
    if (!this.active.delete(task.id)) return false;
    this.owners.drop(task.jobId);
    return true;
  }

  /** Jobs whose owner is kept (`JobOwners`: at most `unfinishedCount`). */
  get ownersKept(): number {
    return this.owners.size;
  }

  /** A cached task finished or left: there is room to claim another (the store wakes its reader). */
  protected released(): void {}

  /** Drops a task and its assignments from memory. */
  private forget(taskId: string): void {
    for (const a of this.leases.forget(taskId)) {
      // Its published result, if any, is found through Redis' index from now on (reopenElsewhere).
      const trusted = this.trusted.get(a.volunteerId);
      if (trusted?.delete(a.id) && trusted.size === 0) this.trusted.delete(a.volunteerId);
    }
    const task = this.tasks.get(taskId);
    const wasActive = task !== undefined && this.deactivate(task);
    this.tasks.delete(taskId);
    this.entries.delete(taskId);
    if (wasActive) this.released();
    this.finished.delete(taskId);
  }
}

/** Whether a done task's published result is this assignment's, alone or as one of its pair (V7a). */
const publishes = (task: StoredTask, assignmentId: string) =>
  task.resultAssignmentId === assignmentId || task.pairAssignmentId === assignmentId;
