import { fail, ok, type Ack, type ErrorCode, type TaskErrorReport, type TaskResult } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { LiveStatsTracker } from '../live/live-stats';
import type { ResultDesk } from '../verification/result-desk';
import type { GuardedWrites } from './guarded-writes';
import type { LapsedLease, LeaseActions, LeaseBook } from './ports';
import type { Sessions, VolunteerSession } from './sessions';
import type { TaskStore } from '../store/task-store';
import { PartialBatchError, type CompleteOutcome, type EndedLease } from '../store/records';
import * as rules from '../store/task-rules';
import { impossibleResultReason } from './validate-result';

/** Most leases lapsed per check. */
const LAPSE_BATCH = 500;

export interface StoreBookDeps {
  store: TaskStore;
  sessions: Sessions;
  writes: GuardedWrites;
  actions: LeaseActions;
  desk: ResultDesk;
  clock: Clock;
  stats: LiveStatsTracker;
  leaseMs: number;
  labels: ReadonlySet<string>;
  log: FastifyBaseLogger;
}

/**
 * The leases of real tasks, kept in the store (the database is the truth): renewals, lapses,
 * releases, and the results and failure reports that end them. Every other book's assignments
 * are its own; this one takes whatever no other book owns.
 */
export class StoreLeaseBook implements LeaseBook {
  constructor(private readonly d: StoreBookDeps) {}

  owns(): boolean {
    return true;
  }

  renew(volunteerId: string, ids: readonly string[], now: number): { renewed: string[]; lost: string[] } {
    return this.d.store.renew(volunteerId, [...ids], now, this.d.leaseMs);
  }

  /** Bounded per check so a mass expiry cannot block the loop in one go. */
  lapse(now: number): LapsedLease[] {
    let ended: EndedLease[] = [];
    try {
      ended = this.d.store.lapseExpired(now, LAPSE_BATCH);
    } catch (err) {
      if (err instanceof PartialBatchError) ended = err.done;
      this.d.writes.fault('scheduler.leases', err);
    }
    return ended.map((e) => ({
      ...held(e),
      stalled: e.assignment.outcome === 'lease_expired',
      reason: (e.assignment.outcome ?? 'lease_expired') as ErrorCode,
    }));
  }

  /** Ends a lease without a result (retried if the write fails; the lease's expiry is the backstop). */
  end(assignmentId: string, _volunteerId: string, reason: ErrorCode, tellVolunteer: boolean): void {
    this.d.writes.withRetry(
      'scheduler.release',
      () => {
        const ended = this.d.store.release(assignmentId, reason, this.d.clock.now());
        if (ended) this.d.actions.endLease(held(ended), tellVolunteer ? reason : null);
      },
      { assignmentId, outcome: reason },
    );
  }

  /**
   * Returns a departed volunteer's leases to the queue; retried if the database fails meanwhile.
   * Dropped as soon as the volunteer is back: its new connection may hold new leases, which a
   * late release would end without telling it, and the old ones lapse by themselves.
   */
  endVolunteer(volunteerId: string): void {
    this.d.writes.withRetry(
      'scheduler.disconnect',
      () => {
        try {
          for (const e of this.d.store.releaseVolunteer(volunteerId, this.d.clock.now())) {
            this.d.actions.endLease(held(e), null);
          }
        } catch (err) {
          if (err instanceof PartialBatchError)
            for (const e of err.done) this.d.actions.endLease(held(e), null);
          throw err;
        }
      },
      { volunteerId },
      () => !this.d.sessions.has(volunteerId),
    );
  }

  /** The store's `cancelJob` ended its leases already. */
  endJob(): void {}

  /**
   * A volunteer's result. If it cannot be stored (database down), nothing changes: the lease
   * stays, and the ack is `storage_unavailable`, so the volunteer sends it again (or the lease
   * lapses and the task runs again). Once stored, the ack is `accepted` whatever follows.
   *
   * With a group commit (SQLite, `TaskStore.staged`), the result is judged and written in this
   * turn's one transaction, and everything that acts on it — the verdict, credits, `/live`, the
   * ack — waits for that commit: an `accepted` ack promises a committed result.
   */
  async result(session: VolunteerSession, payload: TaskResult, now: number): Promise<Answer> {
    const { store, desk, actions } = this.d;
    const receivedAt = performance.now();
    const assignment = store.getAssignment(payload.assignmentId);
    if (!assignment || assignment.volunteerId !== session.id) {
      return fail('not_holder', `assignment ${payload.assignmentId} is not held by this volunteer`);
    }
    const task = store.getTask(assignment.taskId)!;
    if (task.status !== 'done') {
      const reason = impossibleResultReason(payload.detections, task, this.d.labels);
      if (reason) {
        this.d.log.warn(
          { volunteerId: session.id, assignmentId: assignment.id, reason },
          'impossible result rejected',
        );
        const ended = store.release(assignment.id, 'impossible_result', now, desk.verifying);
        if (ended) actions.endLease(held(ended), null);
        desk.caught(session.id, 'impossible', now);
        return fail('impossible_result', reason);
      }
    }
    if (!store.staged) return this.stored(session, this.store(session, payload, now), now, receivedAt);
    return store
      .staged([assignment.taskId, session.id], () => this.store(session, payload, now))
      .then(
        (decided) => this.stored(session, decided, now, receivedAt),
        (err: unknown) => this.d.writes.refusal('scheduler.result', err, session.id),
      );
  }

  /** Judges the result from the state now (no side effects) and writes it (one transaction). */
  private store(session: VolunteerSession, payload: TaskResult, now: number): Decided {
    const { store, desk } = this.d;
    const assignment = store.getAssignment(payload.assignmentId);
    const task = assignment ? store.getTask(assignment.taskId) : null;
    if (!assignment || !task || assignment.volunteerId !== session.id) {
      return { assessed: null, outcome: rules.notHolder(payload.assignmentId) };
    }
    const fresh = { volunteerId: session.id, address: session.address, task, assignment };
    const assessed = desk.assess({ ...fresh, detections: payload.detections }, now);
    const outcome = store.complete(
      assignment.id,
      session.id,
      desk.published(assessed, payload.detections),
      payload.inferenceMs,
      now,
      desk.markOf(assessed),
    );
    return { assessed, outcome };
  }

  /** After the write committed: the verdict and everything else that acts on a stored result. */
  private stored(
    session: VolunteerSession,
    { assessed, outcome }: Decided,
    now: number,
    receivedAt: number,
  ): Answer {
    const { desk, actions, sessions } = this.d;
    if (outcome.kind === 'rejected') return fail(outcome.code, outcome.message);
    if (outcome.kind === 'duplicate') return ok({ accepted: false, duplicate: true });
    // Stored: from here on nothing may turn the ack into a failure.
    let caught: string[] = [];
    try {
      caught = desk.commit(assessed, outcome.assignment, now);
    } catch (err) {
      this.d.writes.fault('scheduler.verdict', err, {
        volunteerId: session.id,
        assignmentId: outcome.assignment.id,
      });
    }
    actions.answered(session);
    sessions.drop(session.id, outcome.assignment.id);
    if (assessed?.judgement.kind !== 'replicate') {
      for (const other of outcome.superseded) actions.cancelHeld(other, 'task_completed');
      actions.resultStored(outcome.task, outcome.assignment, { volunteerId: session.id, receivedAt });
    }
    actions.taskChanged(outcome.task);
    if (caught.length) desk.backtrack(caught);
    actions.pump();
    return ok({ accepted: true, duplicate: false });
  }

  taskError(session: VolunteerSession, payload: TaskErrorReport, now: number): Ack<{ requeued: boolean }> {
    const { store, desk, actions, sessions, writes } = this.d;
    let outcome: ReturnType<TaskStore['reportFailure']>;
    // With a referee no failure report counts, trusted or not (T13; without one only trusted
    // volunteers', V6): the task runs elsewhere, the report is a lost lease, and after repeated
    // ones the referee decides. Same ack.
    const counts = desk.reportCounts(session.id, payload.code);
    try {
      writes.assertStorage();
      outcome = store.reportFailure(
        payload.assignmentId,
        session.id,
        payload.code,
        payload.message,
        now,
        counts,
      );
    } catch (err) {
      return writes.refusal('scheduler.taskError', err, session.id);
    }
    if (outcome.kind === 'rejected') return fail(outcome.code, outcome.message);
    this.d.stats.sink.taskReported(outcome.task, payload.code);
    actions.declined(session.id); // rule V11: declines beyond a share cost slots
    if (payload.code === 'undecodable') desk.checkUndecodable(session.id, outcome.task);
    if (outcome.task.status === 'failed') desk.forget(outcome.task.id);
    else if (!counts) desk.lost(outcome.task, session.id);
    sessions.drop(session.id, outcome.assignment.id);
    actions.taskChanged(outcome.task);
    actions.pump();
    return ok({ requeued: outcome.task.status === 'queued' });
  }
}

type Answer = Ack<{ accepted: boolean; duplicate: boolean }>;

/** A result judged and written: the verdict to apply once the write committed. */
interface Decided {
  assessed: ReturnType<ResultDesk['assess']> | null;
  outcome: CompleteOutcome;
}

/** A store lease as the core's cleanup sees it. */
function held(e: EndedLease) {
  return { assignmentId: e.assignment.id, volunteerId: e.assignment.volunteerId, ended: e };
}
