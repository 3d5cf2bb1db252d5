import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { LiveStatsTracker } from '../live/live-stats';
import type { ErrorSink } from '../observability/error-sink';
import { DEFAULT_DECLINES, StallPolicy } from '../verification/stall-policy';
import type { VerificationMetrics } from '../verification/verification-metrics';
import type { GuardedWrites } from './guarded-writes';
import type { LeaseActions, LeaseBook } from './ports';
import type { Sessions, VolunteerSession } from './sessions';
import type { TaskStore } from '../store/task-store';

/** A lease check this late (ms) means the server stalled (see checkLeases). */
const STALL_TOLERANCE_MS = 500;

export interface LeaseKeeperDeps {
  /** The books of leases, most specific first: the store's, which owns everything, comes last. */
  books: readonly LeaseBook[];
  store: Pick<TaskStore, 'extendLiveLeases' | 'failOverdue'>;
  sessions: Sessions;
  writes: GuardedWrites;
  actions: LeaseActions;
  clock: Clock;
  errors: ErrorSink;
  stats: LiveStatsTracker;
  log: FastifyBaseLogger;
  leaseCheckMs: number;
  /** A volunteer's limit when it is not connected (rule V11). */
  maxInFlightCap: number;
  /** Declines above this share of a volunteer's latest tasks halve its limit (rule V11). @defaultValue 20 */
  maxDeclinePercent?: number;
  /** Counts stalls (rule V11) on /metrics. */
  metrics?: VerificationMetrics;
  /** Told of tasks that failed past their deadline (verification forgets them). */
  failed?: (taskId: string) => void;
  /** Told of each stall and the halvings now in force (its network remembers them, rule V11). */
  stalled?: (volunteerId: string, halvings: number) => void;
}

/**
 * Keeps the leases: heartbeats renew them, the sweep lapses expired ones, a departed volunteer's
 * end, deadlines fail overdue tasks, and a volunteer that keeps letting leases lapse loses slots
 * (rule V11). Every step loops over the books of leases (the store's, the canaries').
 */
export class LeaseKeeper {
  /** Volunteers that keep stalling, or declining their tasks, lose slots (rule V11). */
  readonly stalls: StallPolicy;
  private lastLeaseCheck = 0;

  constructor(private readonly d: LeaseKeeperDeps) {
    const percent = d.maxDeclinePercent ?? DEFAULT_DECLINES.maxShare * 100;
    this.stalls = new StallPolicy({ declines: { ...DEFAULT_DECLINES, maxShare: percent / 100 } });
  }

  /** The book that holds this assignment. */
  bookOf(assignmentId: string): LeaseBook {
    return this.d.books.find((b) => b.owns(assignmentId)) ?? this.d.books.at(-1)!;
  }

  /** Heartbeat: each book renews what it holds; `lost` are those no book holds for this volunteer. */
  renew(volunteerId: string, assignmentIds: string[], now: number): { renewed: string[]; lost: string[] } {
    const renewed: string[] = [];
    let rest: readonly string[] = assignmentIds;
    for (const book of this.d.books) {
      const r = book.renew(volunteerId, rest, now);
      renewed.unshift(...r.renewed); // the store's first, as the ack has always listed them
      rest = r.lost;
    }
    return { renewed, lost: [...rest] };
  }

  /** The volunteer left: every book ends what it held. */
  endVolunteer(volunteerId: string): void {
    for (const book of this.d.books) book.endVolunteer(volunteerId);
  }

  /** Its job was deleted: every book ends what it held of it. */
  endJob(jobId: string): void {
    for (const book of this.d.books) book.endJob(jobId);
  }

  /**
   * Lapses expired leases (lease expiry is read from the clock). Skipped while the
   * database is down: heartbeats could not be stored, so volunteers are not blamed.
   * A throw goes to the error sink (it runs from a timer: it must not stop the process).
   */
  checkLeases(): void {
    this.d.errors.guard('scheduler.leases', () => this.sweep(), undefined);
  }

  private sweep(): void {
    // If this check runs late, the event loop was blocked: heartbeats and acks may be
    // waiting unread. Extend live leases by the stall instead of lapsing them for it.
    // A stall is measured on the monotonic wall clock, whatever clock the leases use.
    const real = performance.now();
    const stall = this.lastLeaseCheck === 0 ? 0 : real - this.lastLeaseCheck - this.d.leaseCheckMs;
    this.lastLeaseCheck = real;
    if (!this.d.writes.allowed) return;
    if (stall > STALL_TOLERANCE_MS) {
      this.d.log.warn({ stallMs: Math.round(stall) }, 'event loop stalled; extending live leases');
      this.d.writes.write('scheduler.stall', () => this.d.store.extendLiveLeases(Math.ceil(stall)));
      return;
    }
    const now = this.d.clock.now();
    let ended = 0;
    for (const book of this.d.books) {
      for (const lapsed of book.lapse(now)) {
        if (lapsed.stalled) this.stalled(lapsed.volunteerId);
        this.d.actions.endLease(lapsed, lapsed.reason);
        ended++;
      }
    }
    if (ended > 0) this.d.actions.pump();
  }

  /** Queued tasks past their deadline fail. Skipped while the database is down. */
  checkDeadlines(): void {
    if (!this.d.writes.allowed) return;
    this.d.writes.write('scheduler.deadlines', () => {
      const overdue = this.d.store.failOverdue(this.d.clock.now());
      this.d.stats.sink.overdue(overdue);
      for (const t of overdue) {
        this.d.failed?.(t.id);
        this.d.actions.taskChanged(t);
      }
    });
  }

  /**
   * The database is back after `downMs`: leases could not be renewed meanwhile, so
   * they are pushed back by the outage (as after a stall).
   */
  resume(downMs: number): void {
    this.d.log.info({ downMs }, 'database back; extending live leases and resuming dispatch');
    this.d.writes.write('scheduler.resume', () => this.d.store.extendLiveLeases(downMs));
  }

  /** An acked lease lapsed (rule V11): the volunteer may hold fewer tasks until it answers again. */
  private stalled(volunteerId: string): void {
    const session = this.d.sessions.get(volunteerId);
    const halvings = this.stalls.stalled(volunteerId, session?.wantedInFlight ?? this.d.maxInFlightCap);
    this.d.metrics?.stalls.inc();
    this.d.stalled?.(volunteerId, halvings);
    if (session) this.limit(session, false);
  }

  /**
   * The volunteer declined a task (a failure report, a refused offer, a canary it dropped): past
   * the decline share its limit is halved (rule V11, the second reason). It may have left.
   */
  declined(volunteerId: string): void {
    this.stalls.declined(volunteerId);
    const session = this.d.sessions.get(volunteerId);
    if (session) this.limit(session, false);
  }

  /** Recomputes a volunteer's task limit; `answered`: it returned a result (one halving undone). */
  limit(session: VolunteerSession, answered = true): void {
    if (answered) this.stalls.answered(session.id);
    session.maxInFlight = this.stalls.limit(session.id, session.wantedInFlight);
    this.d.sessions.reindex(session);
  }
}
