import { fail, ok, type Ack, type ErrorCode, type TaskErrorReport, type TaskResult } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { LapsedLease, LeaseActions, LeaseBook, Offer, OfferSource } from '../../scheduling/ports';
import type { VolunteerSession } from '../../scheduling/sessions';
import type { TaskRecord } from '../../store/records';
import { impossibleResultReason } from '../../scheduling/validate-result';
import type { ResultDesk } from '../result-desk';
import type { VerificationMetrics } from '../verification-metrics';
import type { CanaryDesk } from './desk';

export interface CanaryRoomOptions {
  leaseMs: number;
  /** A canary lease is never renewed past its offer + this (as a real assignment's). @defaultValue no cap */
  maxAssignmentMs?: number;
  labels: ReadonlySet<string>;
  metrics?: VerificationMetrics;
}

/**
 * Known-answer tasks in the scheduler (rule V12): an offer source (always to a volunteer in
 * quarantine, at the canary rate to others) and a book of the canary leases it holds in memory.
 * Results are judged against the referee's answer; a wrong or impossible one is caught.
 */
export class CanaryRoom implements OfferSource, LeaseBook {
  constructor(
    private readonly canaries: CanaryDesk,
    private readonly desk: ResultDesk,
    private readonly actions: LeaseActions,
    private readonly options: CanaryRoomOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    // A canary a quarantined volunteer may be waiting for is ready.
    canaries.onReady(() => actions.pump());
  }

  /** A real task's image was read for an offer: a canary may be made from it. */
  observe(task: TaskRecord, image: Uint8Array, now: number, volunteerId: string): void {
    this.canaries.observe(task, image, now, volunteerId);
  }

  /** A canary instead of a real task when due; `skip`: quarantined and none is ready (nothing at all). */
  take(session: VolunteerSession, now: number): Offer | 'pass' | 'skip' {
    const quarantined = this.desk.standing(session.id) === 'quarantined';
    if (!this.canaries.wanted(quarantined)) return 'pass';
    const payload = this.canaries.take(session.id, now, this.options.leaseMs, quarantined);
    if (!payload) return quarantined ? 'skip' : 'pass';
    const { assignmentId } = payload;
    return {
      assignmentId,
      payload: () => Promise.resolve(payload),
      timedOut: () => this.end(assignmentId, session.id, 'ack_timeout', true),
      // Refusing a canary it has seen is a decline (rule V11), as a refused real task is.
      refused: () => {
        this.end(assignmentId, session.id, 'volunteer_left', false);
        this.actions.declined(session.id);
      },
    };
  }

  owns(assignmentId: string): boolean {
    return this.canaries.owns(assignmentId);
  }

  renew(volunteerId: string, ids: readonly string[], now: number): { renewed: string[]; lost: string[] } {
    const renewed = this.canaries.renew(
      volunteerId,
      ids,
      now,
      this.options.leaseMs,
      this.options.maxAssignmentMs,
    );
    return { renewed, lost: renewed.length ? ids.filter((id) => !renewed.includes(id)) : [...ids] };
  }

  lapse(now: number): LapsedLease[] {
    const lapsed = this.canaries
      .lapse(now)
      .map((c) => ({ ...c, stalled: true, reason: 'lease_expired' as const }));
    // A quarantined volunteer waiting for a canary: its refresh turn may have come.
    if (this.canaries.refreshDue(now)) this.actions.pump();
    return lapsed;
  }

  end(assignmentId: string, volunteerId: string, reason: ErrorCode, tellVolunteer: boolean): void {
    this.canaries.end(assignmentId);
    this.actions.endLease({ assignmentId, volunteerId }, tellVolunteer ? reason : null);
  }

  /**
   * The volunteer left: its canaries end, each counted as a decline (rule V11), not as a failed
   * canary: honest tabs close, but leaving must not be a free way out of a canary it recognised.
   */
  endVolunteer(volunteerId: string): void {
    for (const _ of this.canaries.endVolunteer(volunteerId)) this.actions.declined(volunteerId);
  }

  /** Its job was deleted: held canaries are cancelled as its real tasks are (rule T12). */
  endJob(jobId: string): void {
    for (const c of this.canaries.forgetJob(jobId))
      this.end(c.assignmentId, c.volunteerId, 'cancelled', true);
  }

  /** A canary's result: acked as a real one would be; a wrong or impossible one is caught. */
  async result(
    session: VolunteerSession,
    payload: TaskResult,
    now: number,
  ): Promise<Ack<{ accepted: boolean; duplicate: boolean }>> {
    const desk = this.canaries;
    // A late result (its lease lapsed or was released) is judged, as a real task's is taken.
    const size = desk.heldBy(payload.assignmentId, session.id, true);
    if (!size) {
      // Its job was deleted: refused as a cancelled real task's late result is (rule T12).
      const cancelled = desk.cancelledFor(payload.assignmentId, session.id);
      if (cancelled) return fail('task_completed', `task ${cancelled} already failed`);
      return desk.answeredBy(payload.assignmentId) === session.id
        ? ok({ accepted: false, duplicate: true })
        : fail('not_holder', `assignment ${payload.assignmentId} is not held by this volunteer`);
    }
    const reason = impossibleResultReason(payload.detections, size, this.options.labels);
    if (reason) this.options.metrics?.canaries.inc({ outcome: 'failed' });
    const verdict = reason ? 'failed' : desk.judge(payload.assignmentId, session.id, payload.detections);
    // Judged before the slot frees (ending it pumps): a caught liar gets no real task meanwhile.
    if (verdict === 'passed') this.desk.canaryPassed(session.id, now);
    else if (this.desk.caught(session.id, reason ? 'impossible' : 'wrong', now)) {
      this.log.warn({ volunteerId: session.id }, 'canary answered wrong; volunteer quarantined');
    }
    this.end(payload.assignmentId, session.id, 'volunteer_left', false);
    if (verdict === 'passed') this.actions.answered(session);
    return reason ? fail('impossible_result', reason) : ok({ accepted: true, duplicate: false });
  }

  /**
   * A failure report on a canary, whatever its code, is a failed canary (rule V12): the referee
   * ran this very image, so the sender lied or is broken, and is caught as for a wrong answer.
   * Otherwise a liar could decline whatever looks like a canary for free. Acked as a real task's.
   */
  taskError(session: VolunteerSession, payload: TaskErrorReport, now: number): Ack<{ requeued: boolean }> {
    if (!this.canaries.heldBy(payload.assignmentId, session.id)) {
      return fail('not_holder', `assignment ${payload.assignmentId} is not held by this volunteer`);
    }
    this.options.metrics?.canaries.inc({ outcome: 'failed' });
    if (this.desk.caught(session.id, 'wrong', now)) {
      this.log.warn(
        { volunteerId: session.id, code: payload.code },
        'canary declined with a failure report; volunteer quarantined',
      );
    }
    this.actions.declined(session.id);
    this.end(payload.assignmentId, session.id, 'volunteer_left', false);
    return ok({ requeued: true });
  }
}
