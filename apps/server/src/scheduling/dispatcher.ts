import type { TaskAssignment } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { LiveStatsTracker } from '../live/live-stats';
import type { ErrorSink } from '../observability/error-sink';
import type { GuardedWrites } from './guarded-writes';
import type { Outbox } from './outbox';
import type { LeaseBook, Offer, OfferSource } from './ports';
import type { Sessions, VolunteerSession } from './sessions';
import type { TaskStore } from '../store/task-store';
import type { AssignmentRecord, TaskRecord } from '../store/records';

/** Most offers made in one event-loop turn before yielding to I/O. */
const PUMP_BATCH = 64;

/**
 * An offer's lease in the store: only a backstop (the ack timeout proper runs from the emit, in
 * the outbox), long enough that a slow image read or a burst of offers never lapses an offer
 * before it was even sent.
 */
const OFFER_BACKSTOP_MS = 30_000;

export interface DispatcherDeps {
  sessions: Sessions;
  /** Asked in order for each volunteer: the canaries first (when on), then the store's queue. */
  sources: readonly OfferSource[];
  outbox: Outbox;
  clock: Clock;
  errors: ErrorSink;
  /** Whether dispatch may run (not stopped, the database breaker closed). */
  allowed: () => boolean;
  /** Whether any real task is queued (no offers at all without one). */
  hasWork: () => boolean;
  /** The verification cap on unverified work (verifier.ts, maxUnverified). */
  mayTakeMore: (volunteerId: string, held: number) => boolean;
}

/**
 * Pushes queued work to connected volunteers: least-loaded first, each at most its own in-flight
 * limit, in batches that yield to I/O, every offer acked within the ack timeout.
 */
export class Dispatcher {
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;

  constructor(private readonly d: DispatcherDeps) {}

  /** Assigns queued tasks to volunteers with room, least loaded first. Re-entrant calls coalesce. */
  pump(): void {
    if (!this.d.allowed()) return;
    if (this.pumping || this.pumpScheduled) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    let offered = 0;
    try {
      do {
        this.pumpAgain = false;
        const skip = new Set<VolunteerSession>();
        for (;;) {
          if (!this.d.hasWork()) break;
          if (offered >= PUMP_BATCH) {
            // Yield to I/O (acks, results) before offering more: a burst of thousands of
            // offers in one tick would delay the very acks whose timeouts are running.
            this.pumpScheduled = true;
            setImmediate(() => {
              this.pumpScheduled = false;
              this.pump();
            });
            return;
          }
          const session = this.d.sessions.leastLoaded(skip, (s) => this.d.mayTakeMore(s.id, s.held.size));
          if (!session) break;
          const offer = this.take(session);
          if (offer === 'stop') {
            // Nothing changed (the task is still queued); the breaker decides when to try again.
            this.pumpAgain = false;
            return;
          }
          if (offer === 'skip') {
            skip.add(session); // nothing for this volunteer now (all excluded, or no canary ready)
            continue;
          }
          offered++;
          this.d.sessions.hold(session, offer.assignmentId);
          this.d.errors.watch('scheduler.offer', this.offer(session, offer), {
            volunteerId: session.id,
            assignmentId: offer.assignmentId,
          });
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private take(session: VolunteerSession): Offer | 'skip' | 'stop' {
    const now = this.d.clock.now();
    for (const source of this.d.sources) {
      const offer = source.take(session, now);
      if (offer !== 'pass') return offer;
    }
    return 'skip';
  }

  private async offer(session: VolunteerSession, offer: Offer): Promise<void> {
    const payload = await offer.payload();
    if (!payload) return;
    const answer = await this.d.outbox.deliver(session, payload, offer.accepted?.bind(offer));
    if (answer === 'gone') return;
    if (answer === 'timeout') {
      session.unresponsive = true;
      this.d.sessions.reindex(session);
      offer.timedOut();
      return;
    }
    if (!answer || answer.ok !== true) offer.refused();
  }
}

export interface QueueDeps {
  store: TaskStore;
  book: LeaseBook;
  writes: GuardedWrites;
  clock: Clock;
  errors: ErrorSink;
  stats: LiveStatsTracker;
  log: FastifyBaseLogger;
  /** Reads a task's image. */
  image: (sha256: string) => Promise<Buffer>;
  /** Told of each image read for an offer (the canaries make known-answer tasks from them). */
  observers: readonly ((task: TaskRecord, image: Uint8Array, now: number, volunteerId: string) => void)[];
  /** Watchers see the task running. */
  taskChanged: (task: TaskRecord) => void;
  /** A refused offer is a decline (rule V11), as a refused canary is. */
  declined?: (volunteerId: string) => void;
  /** Tasks kept from this volunteer besides its own exclusions (its network lost them, rule T13). */
  keepsFrom?: (taskId: string, session: VolunteerSession) => boolean;
  ackTimeoutMs: number;
  leaseMs: number;
}

/** The store's queue as a source of offers: the next queued task this volunteer may run. */
export class QueueSource implements OfferSource {
  constructor(private readonly d: QueueDeps) {}

  take(session: VolunteerSession, now: number): Offer | 'skip' | 'stop' {
    let next: { task: TaskRecord; assignment: AssignmentRecord } | null;
    try {
      const offerMs = Math.max(OFFER_BACKSTOP_MS, 3 * this.d.ackTimeoutMs);
      const keeps = this.d.keepsFrom;
      next = this.d.store.assignNext(session.id, now, offerMs, keeps && ((id) => keeps(id, session)));
    } catch (err) {
      this.d.writes.fault('scheduler.assign', err, { volunteerId: session.id });
      return 'stop';
    }
    if (!next) return 'skip'; // everything queued is excluded for this volunteer
    const { task, assignment } = next;
    this.d.taskChanged(task);
    return {
      assignmentId: assignment.id,
      payload: () => this.payload(task, assignment),
      // The ack is written in the ack's own callback, not after an await: a result that arrives
      // in the same network read as its ack is handled before any continuation, and would
      // otherwise complete an assignment whose ack was never recorded (ackedAt null). If the ack
      // cannot be written, the volunteer still runs the task: its heartbeats renew the offer's
      // lease and its result completes the task. The write is retried meanwhile.
      // The ack's write also carries when the offer left (its `assignedAt`): no write of its own.
      accepted: (sentAt) =>
        this.d.writes.withRetry(
          'scheduler.ack',
          () => {
            const t = this.d.clock.now();
            const acked = this.d.store.ack(assignment.id, t, this.d.leaseMs, sentAt);
            if (acked?.ackedAt != null) this.d.stats.ack.add(acked.ackedAt - acked.assignedAt, t);
          },
          { volunteerId: session.id, assignmentId: assignment.id },
        ),
      timedOut: () => {
        this.d.log.warn(
          { volunteerId: session.id, assignmentId: assignment.id },
          'no ack in time; requeueing',
        );
        this.d.book.end(assignment.id, session.id, 'ack_timeout', true);
      },
      refused: () => {
        this.d.book.end(assignment.id, session.id, 'volunteer_left', false);
        this.d.declined?.(session.id);
      },
    };
  }

  private async payload(task: TaskRecord, assignment: AssignmentRecord): Promise<TaskAssignment | null> {
    let image: Buffer;
    try {
      image = await this.d.image(task.imageSha256);
    } catch (err) {
      this.d.errors.report('scheduler.image', err, { taskId: task.id });
      this.d.book.end(assignment.id, assignment.volunteerId, 'internal', false);
      return null;
    }
    const now = this.d.clock.now();
    for (const observe of this.d.observers) observe(task, image, now, assignment.volunteerId);
    return {
      assignmentId: assignment.id,
      taskId: task.id,
      jobId: task.jobId,
      name: task.name,
      width: task.width,
      height: task.height,
      mime: task.mime,
      imageSha256: task.imageSha256,
      image,
      leaseMs: this.d.leaseMs,
    };
  }
}
