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

/**
 * Most offers made in one event-loop turn, by every pump of that turn together, before yielding
 * to I/O (a replica paired with the turn's last offer may make it one more). Counted per turn, not
 * per pump: when thousands of volunteers join or resume a full queue, each one's event pumps
 * again in the same turn, and per-pump batches would add up to the whole burst.
 */
export const PUMP_BATCH = 64;

/** Most volunteers looked at for a replica's partner in one offer. */
const PARTNERS_LOOKED = 64;

/** Tasks kept waiting for a replica's partner (oldest dropped: they replicate after their result). */
const UNPAIRED_KEPT = 10_000;
/** Of those, how many one volunteer's offer looks at. */
const UNPAIRED_LOOKED = 32;

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
  /** Offers made in this event-loop turn (reset by the turn's `setImmediate`). */
  private turnOffers = 0;
  /** A pump was put off to the next turn (this turn's offers were used up). */
  private deferred = false;

  constructor(private readonly d: DispatcherDeps) {}

  /** Assigns queued tasks to volunteers with room, least loaded first. Re-entrant calls coalesce. */
  pump(): void {
    if (!this.d.allowed()) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.turnOffers >= PUMP_BATCH) {
      this.deferred = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const skip = new Set<VolunteerSession>();
        for (;;) {
          if (!this.d.hasWork()) break;
          if (this.turnOffers >= PUMP_BATCH) {
            // Yield to I/O (acks, results) before offering more: a burst of thousands of
            // offers in one tick would delay the very acks whose timeouts are running.
            this.deferred = true;
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
          this.send(session, offer);
          // Its replica at once, to another volunteer: the two run at the same time (rule V3).
          const pair = offer.pair?.();
          if (pair) this.send(pair.session, pair.offer);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /** Offers made in this event-loop turn so far (a test's view of the burst's spreading). */
  get offersThisTurn(): number {
    return this.turnOffers;
  }

  private send(session: VolunteerSession, offer: Offer): void {
    if (this.turnOffers++ === 0) {
      setImmediate(() => {
        this.turnOffers = 0;
        if (!this.deferred) return;
        this.deferred = false;
        this.pump();
      });
    }
    this.d.sessions.hold(session, offer.assignmentId);
    this.d.errors.watch('scheduler.offer', this.offer(session, offer), {
      volunteerId: session.id,
      assignmentId: offer.assignmentId,
    });
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
  /** Replicas offered together with their first copy (rule V3); absent: no pairing. */
  pairing?: {
    /** Whether this fresh offer's result will need a replica (planned now: `Verifier.planOffer`). */
    needed: (taskId: string, assignmentId: string, volunteerId: string) => boolean;
    /** Whether `second` may run the replica of a task offered to `first` (and take more work). */
    fits: (first: VolunteerSession, second: VolunteerSession) => boolean;
    /** The partner's offer is a replica: its result waits for the other's. */
    planned: (assignmentId: string) => void;
    sessions: Sessions;
  };
  ackTimeoutMs: number;
  leaseMs: number;
}

/** The store's queue as a source of offers: the next queued task this volunteer may run. */
export class QueueSource implements OfferSource {
  /**
   * Tasks just offered whose replica found no partner in their pass (every other volunteer was
   * full), by task: the next volunteer with a free slot that fits takes the replica, before any
   * queued task, so the two still run at nearly the same time.
   */
  private readonly unpaired = new Map<string, { first: VolunteerSession; task: TaskRecord }>();

  constructor(private readonly d: QueueDeps) {}

  take(session: VolunteerSession, now: number): Offer | 'skip' | 'stop' {
    const replica = this.unpaired.size > 0 ? this.takeUnpaired(session, now) : null;
    if (replica) return replica;
    let next: { task: TaskRecord; assignment: AssignmentRecord } | null;
    try {
      const keeps = this.d.keepsFrom;
      next = this.d.store.assignNext(session.id, now, this.offerMs, keeps && ((id) => keeps(id, session)));
    } catch (err) {
      this.d.writes.fault('scheduler.assign', err, { volunteerId: session.id });
      return 'stop';
    }
    if (!next) return 'skip'; // everything queued is excluded for this volunteer
    const offer = this.offerOf(session, next.task, next.assignment);
    const pairing = this.d.pairing;
    const { task, assignment } = next;
    if (pairing?.needed(task.id, assignment.id, session.id)) {
      offer.pair = () => this.pair(session, task, now);
    }
    return offer;
  }

  /** The replica of `task` (just offered to `first`), offered to another volunteer if one fits. */
  private pair(
    first: VolunteerSession,
    task: TaskRecord,
    now: number,
  ): { session: VolunteerSession; offer: Offer } | null {
    const pairing = this.d.pairing!;
    const store = this.d.store;
    this.unpaired.delete(task.id);
    const partner = pairing.sessions.partnerOf(
      first,
      (s) => !store.excludes(task.id, s.id) && !this.keeps(task.id, s) && pairing.fits(first, s),
      PARTNERS_LOOKED,
    );
    if (!partner) {
      // The next volunteer with a free slot takes it (`takeUnpaired`); if none does before the
      // first result, the task is queued again as before (rule V3) and this entry goes stale.
      this.unpaired.set(task.id, { first, task });
      if (this.unpaired.size > UNPAIRED_KEPT) this.unpaired.delete(this.unpaired.keys().next().value!);
      return null;
    }
    const offer = this.replicaOf(partner, task, now);
    return offer ? { session: partner, offer } : null;
  }

  /** A replica waiting for its partner that this volunteer may run, offered to it; else null. */
  private takeUnpaired(session: VolunteerSession, now: number): Offer | null {
    const pairing = this.d.pairing!;
    let looked = 0;
    for (const [taskId, { first, task }] of this.unpaired) {
      if (++looked > UNPAIRED_LOOKED) break;
      if (first === session || this.d.store.excludes(taskId, session.id)) continue;
      if (this.keeps(taskId, session)) continue; // its network lost the task (T13)
      if (!pairing.fits(first, session)) continue;
      this.unpaired.delete(taskId);
      const offer = this.replicaOf(session, task, now);
      if (offer) return offer; // else stale: no longer running (its result came first, or it ended)
    }
    return null;
  }

  /** Records and builds the replica of a running task for `session` (null: not running any more). */
  private replicaOf(session: VolunteerSession, task: TaskRecord, now: number): Offer | null {
    let next: { task: TaskRecord; assignment: AssignmentRecord } | null;
    try {
      next = this.d.store.assignReplica(task.id, session.id, now, this.offerMs);
    } catch (err) {
      this.d.writes.fault('scheduler.assign', err, { volunteerId: session.id });
      return null;
    }
    if (!next) return null;
    this.d.pairing!.planned(next.assignment.id);
    return this.offerOf(session, next.task, next.assignment);
  }

  /** Whether the task is kept from this volunteer besides its exclusions (rule T13). */
  private keeps(taskId: string, session: VolunteerSession): boolean {
    return this.d.keepsFrom?.(taskId, session) ?? false;
  }

  private get offerMs(): number {
    return Math.max(OFFER_BACKSTOP_MS, 3 * this.d.ackTimeoutMs);
  }

  private offerOf(session: VolunteerSession, task: TaskRecord, assignment: AssignmentRecord): Offer {
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
