import type { Ack, ErrorCode, TaskAssignment, TaskErrorReport, TaskResult } from '@tabgrid/protocol';
import type { VolunteerSession } from './sessions';
import type { AssignmentRecord, EndedLease, TaskRecord } from '../store/records';

/**
 * The small interfaces the scheduling rooms act through, after BullMQ's
 * `LockManagerWorkerContext` ("the minimal interface that LockManager needs from Worker"):
 * a room sees only the verbs it needs, and its tests need nothing else.
 */

/** A lease that ended without a result, as the core cleans it up. */
export interface EndedHold {
  assignmentId: string;
  volunteerId: string;
  /** The store's record of it (absent for a canary, which lives outside the store). */
  ended?: EndedLease;
}

/** The verbs a room may call on the scheduling core (the `Scheduler` facade implements them). */
export interface LeaseActions {
  /**
   * A lease ended without a result: the volunteer's slot frees, it is told with `task:cancel`
   * when `reason` is given, watchers see the task change, and dispatch runs again.
   */
  endLease(lease: EndedHold, reason: ErrorCode | null): void;
  /** Takes held work back from its volunteer (`task:cancel`) after the store ended it. */
  cancelHeld(assignment: Pick<AssignmentRecord, 'id' | 'volunteerId'>, reason: ErrorCode): void;
  /** A task's state changed: requesters and `/live` are told. */
  taskChanged(task: TaskRecord): void;
  /**
   * A result was stored final (`assignment` null: the server referee's). The one place a settled
   * task is counted, whoever settled it (PROTOCOL.md L11): `/live` and `tabgrid_tasks_total`.
   * `from` is the volunteer whose result just arrived (the dispatch-overhead histogram); absent
   * when the referee settled the task.
   */
  resultStored(
    task: TaskRecord,
    assignment: AssignmentRecord | null,
    from?: { volunteerId: string; receivedAt: number },
  ): void;
  /** A volunteer returned a result: one stall halving undone (rule V11). */
  answered(session: VolunteerSession): void;
  /**
   * A volunteer declined a task: reported a failure, refused the offer, or dropped a canary (it
   * may have left). Past the decline share its task limit is halved (rule V11).
   */
  declined(volunteerId: string): void;
  /** Offer queued work to volunteers with room. */
  pump(): void;
  /**
   * Whether anyone could still take this task's replica (rule V5): a volunteer connected here,
   * accepting work, not excluded from the task, for whom `counts` holds (verification's say: not
   * quarantined, independent of the waiting results). Conservative: true when volunteers of other
   * processes may take the task (Redis: other gateways) or past a bounded look.
   */
  mayAnyoneTake(taskId: string, counts: (volunteerId: string, address: string) => boolean): boolean;
}

/** One offer a source hands the dispatcher for one volunteer. */
export interface Offer {
  assignmentId: string;
  /** The assignment to send; null when the lease ended before it could be sent (it cleaned up). */
  payload(): Promise<TaskAssignment | null>;
  /**
   * Runs synchronously in the ack's callback when the volunteer accepted; `sentAt` is when the
   * offer left the server (the emit), the `assignedAt` the API reports.
   */
  accepted?(sentAt: number): void;
  /** No ack in time: the volunteer was marked unresponsive; end the lease and tell it. */
  timedOut(): void;
  /** The volunteer refused the offer. */
  refused(): void;
  /**
   * Its replica, offered at once to another volunteer in the same dispatch pass (rule V3: the two
   * run at the same time and meet without the referee), or null when none is needed or eligible.
   */
  pair?(): { session: VolunteerSession; offer: Offer } | null;
}

/**
 * Where offers come from (the store's queue, the canaries). `pass`: nothing from this source,
 * ask the next one; `skip`: nothing for this volunteer at all this pump; `stop`: the store
 * failed, stop dispatching until the breaker allows it again.
 */
export interface OfferSource {
  take(session: VolunteerSession, now: number): Offer | 'pass' | 'skip' | 'stop';
}

/** One lapsed lease a book ended (`stalled`: an acked lease the volunteer let lapse, rule V11). */
export interface LapsedLease extends EndedHold {
  stalled: boolean;
  reason: ErrorCode;
}

/**
 * A book of leases (the store's, the canaries'): heartbeats, disconnects and the lease sweep
 * loop over the books instead of branching on each kind.
 */
export interface LeaseBook {
  /** Whether this book holds (or held) the assignment: its results and reports go here. */
  owns(assignmentId: string): boolean;
  /** Renews what this volunteer holds here among `ids`; `lost`: the rest (for the next book). */
  renew(volunteerId: string, ids: readonly string[], now: number): { renewed: string[]; lost: string[] };
  /** Ends leases past their expiry (bounded per call). */
  lapse(now: number): LapsedLease[];
  /** Ends one lease without a result (retried by the book if its write fails). */
  end(assignmentId: string, volunteerId: string, reason: ErrorCode, tellVolunteer: boolean): void;
  /** The volunteer left: every lease it held here ends. */
  endVolunteer(volunteerId: string): void;
  /** Its job was deleted: what this book holds of it ends (`task:cancel`, `cancelled`). */
  endJob(jobId: string): void;
  /** A result for an assignment this book owns; answered once it is durable (maybe a turn later). */
  result(
    session: VolunteerSession,
    payload: TaskResult,
    now: number,
  ): Promise<Ack<{ accepted: boolean; duplicate: boolean }>>;
  /** A failure report for an assignment this book owns. */
  taskError(session: VolunteerSession, payload: TaskErrorReport, now: number): Ack<{ requeued: boolean }>;
}
