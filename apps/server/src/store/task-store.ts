import type { Detection, ErrorCode } from '@tabgrid/protocol';
import type {
  AssignmentRecord,
  CompleteOutcome,
  EndedLease,
  FailureOutcome,
  Settlement,
  TaskRecord,
  VerificationMark,
} from './records';

/**
 * What the scheduler needs from the store of jobs, tasks and leases, synchronous (the hot path:
 * an offer, an ack, a result never wait for I/O). `SchedulerStore` (`store/sqlite/`, one
 * process) and `LocalCache` under `RedisSchedulingStore` (`store/redis/`, many gateways; changes
 * are written behind to Redis) implement it.
 *
 * Every method may throw a dependency error (SQLITE_BUSY, SQLITE_FULL, …). A
 * method that throws has changed nothing (it is one transaction), except the
 * batch methods `releaseVolunteer` / `lapseExpired`, which throw
 * `PartialBatchError` carrying what they did end.
 */
export interface TaskStore {
  readonly queuedCount: number;
  /**
   * Offers the next queued task this volunteer may take. `skip`: tasks kept from it besides its own
   * exclusions (verification's: a task its network lost, issue 17 A); they stay queued for others.
   */
  assignNext(
    volunteerId: string,
    now: number,
    offerMs: number,
    skip?: (taskId: string) => boolean,
  ): { task: TaskRecord; assignment: AssignmentRecord } | null;
  /**
   * Offers a task just started (`running`) to a second volunteer at once, its replica (rule V3):
   * records another `offered` assignment on it. Null when the task is no longer running or the
   * volunteer is excluded from it. Redis: only a task this gateway holds (the pair meets where
   * its first result is judged).
   */
  assignReplica(
    taskId: string,
    volunteerId: string,
    now: number,
    offerMs: number,
  ): { task: TaskRecord; assignment: AssignmentRecord } | null;
  /**
   * The volunteer acknowledged the offer: the lease now runs `leaseMs`. `sentAt` (when the offer
   * left the server) becomes the assignment's `assignedAt`, carried by this same write: an offer
   * may wait inside a busy server between being recorded and being sent.
   */
  ack(assignmentId: string, now: number, leaseMs: number, sentAt?: number): AssignmentRecord | null;
  /**
   * Group commit (SQLite): runs `stage` — store calls — inside this event-loop turn's one
   * transaction, with every other stage of the turn, and resolves with its value once that
   * transaction has committed (rejects, having changed nothing, if it did not). Stages sharing a
   * key (a task, a volunteer) go in separate turns, in order. Absent (Redis): each call is
   * written by itself, and nothing waits.
   */
  staged?<T>(keys: readonly string[], stage: () => T): Promise<T>;
  /** Whether this volunteer is kept from the task (its kept result, a quarantined sender: V3, V6). */
  excludes(taskId: string, volunteerId: string): boolean;
  /**
   * Whether volunteers of other processes take this store's tasks too (Redis: other gateways), so
   * that no volunteer here able to take a task does not mean no one.
   */
  readonly shared: boolean;
  renew(
    volunteerId: string,
    assignmentIds: string[],
    now: number,
    leaseMs: number,
  ): { renewed: string[]; lost: string[] };
  /** `exclude`: the task is not offered to this volunteer again (a quarantined sender, rule V6). */
  release(assignmentId: string, outcome: ErrorCode, now: number, exclude?: boolean): EndedLease | null;
  releaseVolunteer(volunteerId: string, now: number): EndedLease[];
  lapseExpired(now: number, limit?: number): EndedLease[];
  extendLiveLeases(ms: number): void;
  failOverdue(now: number): TaskRecord[];
  /**
   * Ends every unfinished task of a job (its owner deleted it) and the leases on them held here.
   * With several gateways (Redis), `elsewhere` resolves to how many more tasks were cancelled in
   * the shared store (cached by other gateways or not claimed yet); it rejects if that failed.
   */
  cancelJob(
    jobId: string,
    now: number,
  ): { tasks: TaskRecord[]; leases: AssignmentRecord[]; elsewhere?: Promise<number> };
  /**
   * The referee cannot decode or run a task it took over (rule T13): the task fails for its own
   * reason, and its live leases end (the caller takes them back). Null if it had finished, or (Redis)
   * is not held by this gateway.
   */
  failTask(
    taskId: string,
    failure: { code: ErrorCode; message: string },
    now: number,
  ): { task: TaskRecord; leases: AssignmentRecord[] } | null;
  getTask(taskId: string): TaskRecord | null;
  getAssignment(assignmentId: string): AssignmentRecord | null;
  complete(
    assignmentId: string,
    volunteerId: string,
    detections: Detection[],
    inferenceMs: number,
    now: number,
    /** How verification marks the result (`replicate`: keep it, run the task again elsewhere). */
    mark?: VerificationMark | 'replicate' | null,
  ): CompleteOutcome;
  /** Verification settled a task outside any live assignment (referee, earlier replica). */
  finalize(
    taskId: string,
    detections: Detection[],
    resultAssignmentId: string | null,
    mark: VerificationMark,
    now: number,
    /** The referee's run time and the verdicts on the task's results (`Settlement`). */
    settlement?: Settlement,
  ): { task: TaskRecord; superseded: AssignmentRecord[] } | null;
  /** Backtracking: done tasks whose result came from these assignments are queued again. */
  reopen(assignmentIds: readonly string[]): TaskRecord[];
  /**
   * Assignments of this volunteer whose result is a done task's published result
   * (`resultAssignmentId`), however it was verified: trusted, replicated, spot-checked, refereed
   * (rule V7).
   */
  publishedResultsOf(volunteerId: string): string[];
  /**
   * Backtracking beyond what `publishedResultsOf` sees: this volunteer's published results that
   * another gateway accepted (or this one no longer holds in memory), reopened in the shared
   * store. Resolves with their assignments and reopened tasks; a store that sees every
   * result itself (SQLite, one process) has none.
   */
  reopenElsewhere(volunteerId: string): Promise<{ revoked: string[]; reopened: TaskRecord[] }>;
  reportFailure(
    assignmentId: string,
    volunteerId: string,
    code: ErrorCode,
    message: string,
    now: number,
    /** Whether the report counts toward failing the task (false: the task just runs elsewhere). */
    counts?: boolean,
  ): FailureOutcome;
}
