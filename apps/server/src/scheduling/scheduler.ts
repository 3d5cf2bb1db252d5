import {
  TabgridError,
  type Ack,
  type ErrorCode,
  type Hello,
  type ModelInfo,
  type TaskErrorReport,
  type TaskResult,
} from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { systemClock, type Clock } from '../clock';
import type { ServerConfig } from '../config';
import type { CreditKeeper } from '../ledger/credit-keeper';
import type { LiveStatsTracker } from '../live/live-stats';
import type { ErrorSink } from '../observability/error-sink';
import type { DispatchGate } from '../observability/health';
import type { BlobStore } from '../storage/blob-store';
import { ImageCache } from '../storage/image-cache';
import { CanaryRoom, type CanaryDesk } from '../verification/canaries';
import { ResultDesk } from '../verification/result-desk';
import type { VerificationMetrics } from '../verification/verification-metrics';
import type { Verifier } from '../verification/verifier';
import { Dispatcher, QueueSource } from './dispatcher';
import { GuardedWrites } from './guarded-writes';
import { LeaseKeeper } from './lease-keeper';
import { Outbox } from './outbox';
import type { EndedHold, LeaseActions, LeaseBook, OfferSource } from './ports';
import { Sessions, VolunteerSession, type VolunteerSocket } from './sessions';
import { StoreLeaseBook } from './store-book';
import type { TaskStore } from './task-store';
import type { AssignmentRecord, TaskRecord } from './types';

export { VolunteerSession, type VolunteerSocket } from './sessions';

/** What the scheduler tells the outside world (the live namespace implements it). */
export interface SchedulerEvents {
  /** `assignment` is null when the server referee's result was published. */
  resultStored(task: TaskRecord, assignment: AssignmentRecord | null): void;
  taskChanged(task: TaskRecord): void;
}

/** How the scheduler reports failures, whether it may dispatch, and what time it is. */
export interface SchedulerRuntime {
  errors: ErrorSink;
  /** The circuit breaker: no dispatch while the database is down. */
  gate: DispatchGate;
  /** @defaultValue the system clock */
  clock?: Clock;
  /** Result verification (apps/server/src/verification); without it every result is final. */
  verifier?: Verifier;
  /** A result waiting for its replica this long (ms) goes to the referee. */
  refereeAfterMs?: number;
  /** The credit ledger (apps/server/src/ledger); without it no credit is kept. */
  credits?: CreditKeeper;
  /** Counts stalls (rule V11) on /metrics. */
  metrics?: VerificationMetrics;
  /** Known-answer tasks (rule V12); without it quarantined volunteers get ordinary tasks. */
  canaries?: CanaryDesk;
}

export type SchedulerConfig = Pick<
  ServerConfig,
  'ackTimeoutMs' | 'leaseMs' | 'maxInFlight' | 'maxInFlightCap' | 'leaseCheckMs' | 'deadlineCheckMs'
> &
  Partial<Pick<ServerConfig, 'maxTasksPerIp' | 'maxAssignmentMs'>>;

/**
 * The scheduling core as the sockets see it: a facade over its rooms (ARCHITECTURE.md
 * "Scheduling"). `Sessions` keeps who is connected, the `Dispatcher` pushes offers from its
 * sources (the canaries, the store's queue) through the `Outbox`, the `LeaseKeeper` renews and
 * sweeps the books of leases, `GuardedWrites` carries writes through a database outage, and the
 * `ResultDesk` (verification/) decides what a result means. The rooms act on the core only
 * through `LeaseActions`, which this class implements.
 */
export class Scheduler implements LeaseActions {
  private readonly sessions: Sessions;
  private readonly writes: GuardedWrites;
  private readonly desk: ResultDesk;
  private readonly keeper: LeaseKeeper;
  private readonly dispatcher: Dispatcher;
  private readonly books: LeaseBook[];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly clock: Clock;

  constructor(
    private readonly store: TaskStore,
    blobs: BlobStore,
    private readonly config: SchedulerConfig,
    private readonly model: ModelInfo,
    private readonly stats: LiveStatsTracker,
    private readonly events: SchedulerEvents,
    private readonly log: FastifyBaseLogger,
    runtime: SchedulerRuntime,
  ) {
    const clock = (this.clock = runtime.clock ?? systemClock);
    const { errors } = runtime;
    const images = new ImageCache(blobs);
    const image = (sha256: string) => images.get(sha256);
    const labels = new Set(model.labels);
    this.sessions = new Sessions(config.maxInFlightCap, config.maxTasksPerIp ?? 0);
    this.writes = new GuardedWrites(errors, runtime.gate, log);
    const fault = this.writes.fault.bind(this.writes);
    this.desk = new ResultDesk({
      store,
      actions: this,
      image,
      clock,
      errors,
      fault,
      log,
      verifier: runtime.verifier,
      credits: runtime.credits,
      refereeAfterMs: runtime.refereeAfterMs,
    });
    const storeBook = new StoreLeaseBook({
      ...{ store, sessions: this.sessions, writes: this.writes, actions: this, desk: this.desk },
      ...{ clock, stats, leaseMs: config.leaseMs, labels, log },
    });
    const room =
      runtime.canaries && runtime.verifier
        ? new CanaryRoom(
            runtime.canaries,
            this.desk,
            this,
            {
              leaseMs: config.leaseMs,
              maxAssignmentMs: config.maxAssignmentMs,
              labels,
              metrics: runtime.metrics,
            },
            log,
          )
        : null;
    this.books = room ? [room, storeBook] : [storeBook];
    const queue = new QueueSource({
      ...{ store, book: storeBook, writes: this.writes, clock, errors, stats, log, image },
      observers: room ? [(task, bytes, now) => room.observe(task, bytes, now)] : [],
      taskChanged: (t) => this.taskChanged(t),
      ackTimeoutMs: config.ackTimeoutMs,
      leaseMs: config.leaseMs,
    });
    const sources: OfferSource[] = room ? [room, queue] : [queue];
    this.dispatcher = new Dispatcher({
      sessions: this.sessions,
      sources,
      outbox: new Outbox(config.ackTimeoutMs, (id) => stats.sink.offering(id)),
      clock,
      errors,
      allowed: () => !this.stopped && runtime.gate.dispatchAllowed(),
      hasWork: () => store.queuedCount > 0,
      mayTakeMore: (id, held) => this.desk.mayTakeMore(id, held),
    });
    this.keeper = new LeaseKeeper({
      ...{ books: this.books, store, sessions: this.sessions, writes: this.writes, actions: this },
      ...{ clock, errors, stats, log, leaseCheckMs: config.leaseCheckMs },
      maxInFlightCap: config.maxInFlightCap,
      metrics: runtime.metrics,
      failed: (taskId) => this.desk.forget(taskId),
    });
  }

  get volunteersOnline(): number {
    return this.sessions.size;
  }

  /** The client address of a connected volunteer, if it is connected. */
  addressOf(volunteerId: string): string | undefined {
    return this.sessions.get(volunteerId)?.address;
  }

  start(): void {
    this.timers.push(
      setInterval(() => this.checkLeases(), this.config.leaseCheckMs),
      setInterval(() => this.checkDeadlines(), this.config.deadlineCheckMs),
    );
    for (const t of this.timers) t.unref();
  }

  /** The database is back after `downMs`: leases are extended by the outage, dispatch resumes. */
  resume(downMs: number): void {
    if (this.stopped) return;
    this.keeper.resume(downMs);
    this.pump();
  }

  /** Queued tasks past their deadline fail. Skipped while the database is down. */
  checkDeadlines(): void {
    if (!this.stopped) this.keeper.checkDeadlines();
  }

  /** Lapses expired leases; skipped while the database is down (see LeaseKeeper.checkLeases). */
  checkLeases(): void {
    if (!this.stopped) this.keeper.checkLeases();
  }

  /** Tasks a volunteer running `slots` at once may hold: `slots + maxInFlight - 1` (one prefetched by default), capped. */
  inFlightLimit(slots = 1): number {
    const wanted = Math.max(1, Math.floor(slots)) + this.config.maxInFlight - 1;
    return Math.max(1, Math.min(wanted, this.config.maxInFlightCap));
  }

  hello(session: VolunteerSession): Hello {
    return {
      volunteerId: session.id,
      displayName: session.displayName || session.id,
      model: this.model,
      leaseMs: this.config.leaseMs,
      heartbeatMs: Math.floor(this.config.leaseMs / 2),
      maxInFlight: session.maxInFlight,
    };
  }

  // ----------------------------------------------------------- membership

  /**
   * A volunteer's handshake was accepted. A second connection with the same (verified) identity
   * replaces the first, which is told so (PROTOCOL.md rule I4). `identity.token` is sent in this
   * `hello` only (a newly issued identity).
   */
  connect(
    volunteerId: string,
    socket: VolunteerSocket,
    slots = 1,
    identity: { displayName?: string; token?: string; address?: string } = {},
  ): VolunteerSession {
    const previous = this.sessions.get(volunteerId);
    if (previous) {
      this.log.info({ volunteerId }, 'volunteer reconnected; dropping its previous connection');
      this.disconnect(previous.socket);
      previous.socket.emit('volunteer:replaced', { message: 'this volunteer connected from elsewhere' });
      previous.socket.disconnect(true);
    }
    const session = new VolunteerSession(volunteerId, socket, this.inFlightLimit(slots));
    session.maxInFlight = this.keeper.stalls.limit(volunteerId, session.wantedInFlight);
    session.displayName = identity.displayName ?? '';
    session.address = identity.address ?? '';
    this.sessions.add(session);
    socket.emit('hello', { ...this.hello(session), ...(identity.token ? { token: identity.token } : {}) });
    this.pump();
    return session;
  }

  /** The connection closed: every lease it held is returned to the queue now. */
  disconnect(socket: VolunteerSocket): void {
    const volunteerId = socket.data.volunteerId as string | undefined;
    if (!volunteerId) return;
    const session = this.sessions.get(volunteerId);
    if (!session || session.socket !== socket) return;
    this.sessions.remove(session);
    this.stats.sink.volunteerLeft(volunteerId);
    this.keeper.endVolunteer(volunteerId);
    this.pump();
  }

  /** Any packet arrived from this volunteer: it is alive, offers may resume. */
  alive(session: VolunteerSession): void {
    if (!session.unresponsive) return;
    session.unresponsive = false;
    this.sessions.reindex(session);
    this.pump();
  }

  setAccepting(session: VolunteerSession, accepting: boolean): void {
    session.accepting = accepting;
    this.sessions.reindex(session);
    if (accepting) this.pump();
  }

  /** Assigns queued tasks to volunteers with room, least loaded first. Re-entrant calls coalesce. */
  pump(): void {
    this.dispatcher.pump();
  }

  // ----------------------------------------------------------- volunteer reports

  /**
   * Renews the leases. Throws `TabgridError('storage_unavailable')` when the database
   * cannot take it; the leases are then extended by the outage when it is back (`resume`).
   */
  heartbeat(session: VolunteerSession, assignmentIds: string[]): { renewed: string[]; lost: string[] } {
    try {
      this.writes.assertStorage();
      return this.keeper.renew(session.id, assignmentIds, this.clock.now());
    } catch (err) {
      const refused = this.writes.refusal('scheduler.heartbeat', err, session.id);
      throw new TabgridError(refused.code, refused.message);
    }
  }

  /**
   * A volunteer's result, to the book that holds its lease. If it cannot be stored (database
   * down), nothing changes and the ack is `storage_unavailable`: the volunteer sends it again.
   */
  result(session: VolunteerSession, payload: TaskResult): Ack<{ accepted: boolean; duplicate: boolean }> {
    try {
      this.writes.assertStorage();
      return this.keeper.bookOf(payload.assignmentId).result(session, payload, this.clock.now());
    } catch (err) {
      return this.writes.refusal('scheduler.result', err, session.id);
    }
  }

  /** A volunteer reports it could not run a task. */
  taskError(session: VolunteerSession, payload: TaskErrorReport): Ack<{ requeued: boolean }> {
    return this.keeper.bookOf(payload.assignmentId).taskError(session, payload, this.clock.now());
  }

  /**
   * Cancels a job's unfinished tasks (its owner deleted it): queued ones leave the queue,
   * held ones are taken back with `task:cancel` (`cancelled`). Resolves to how many were
   * cancelled, on every gateway (Redis mode: once the shared store has them all).
   */
  async cancelJob(jobId: string): Promise<number> {
    const { tasks, leases, elsewhere } = this.store.cancelJob(jobId, this.clock.now());
    this.endCancelled({ jobId, tasks, leases });
    return tasks.length + (elsewhere ? await elsewhere : 0);
  }

  /**
   * Takes back cancelled tasks' leases from their volunteers (`task:cancel`) and tells watchers:
   * after a local cancel, or a cancel another gateway announced (Redis mode).
   */
  endCancelled({
    jobId,
    tasks,
    leases,
  }: {
    jobId: string;
    tasks: TaskRecord[];
    leases: AssignmentRecord[];
  }): void {
    for (const a of leases) this.cancelHeld(a, 'cancelled');
    // Its canaries go too, held ones cancelled as its real tasks are (rule V12).
    this.keeper.endJob(jobId);
    for (const t of tasks) {
      this.desk.forget(t.id);
      this.events.taskChanged(t);
    }
    if (leases.length > 0) this.pump();
  }

  // ----------------------------------------------------------- LeaseActions (for the rooms)

  endLease({ assignmentId, volunteerId, ended }: EndedHold, reason: ErrorCode | null): void {
    if (ended) this.stats.sink.leaseEnded(ended);
    const dropped = this.sessions.drop(volunteerId, assignmentId);
    if (reason && (dropped || ended)) {
      this.sessions.get(volunteerId)?.socket.emit('task:cancel', { assignmentId, reason });
    }
    if (ended) this.events.taskChanged(ended.task);
    this.pump();
  }

  cancelHeld(assignment: Pick<AssignmentRecord, 'id' | 'volunteerId'>, reason: ErrorCode): void {
    this.sessions.drop(assignment.volunteerId, assignment.id);
    this.sessions
      .get(assignment.volunteerId)
      ?.socket.emit('task:cancel', { assignmentId: assignment.id, reason });
  }

  taskChanged(task: TaskRecord): void {
    this.events.taskChanged(task);
  }

  resultStored(task: TaskRecord, assignment: AssignmentRecord | null): void {
    this.events.resultStored(task, assignment);
  }

  answered(session: VolunteerSession): void {
    this.keeper.limit(session);
  }

  /**
   * Graceful shutdown: stop dispatching, hand every lease back to the queue
   * (so a restart picks them up at once) and tell volunteers.
   */
  stop(): void {
    // A lease that cannot be handed back now is treated as lapsed by the next start's recovery;
    // with the database down it is not even tried (each try could wait out the busy timeout).
    const canWrite = this.writes.allowed;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.writes.stop();
    this.desk.stop();
    const now = this.clock.now();
    for (const session of this.sessions.values()) {
      for (const id of canWrite ? [...session.held] : []) {
        this.writes.write('scheduler.stop', () => {
          const ended = this.store.release(id, 'shutting_down', now);
          if (ended) session.socket.emit('task:cancel', { assignmentId: id, reason: 'shutting_down' });
        });
      }
      session.held.clear();
    }
  }
}
