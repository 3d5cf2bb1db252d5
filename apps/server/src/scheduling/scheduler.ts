import {
  TabgridError,
  type Ack,
  type ErrorCode,
  type Hello,
  type ModelInfo,
  type TaskErrorReport,
  type TaskResult,
  type VolunteerCounts,
} from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { LiveStatsTracker } from '../live/live-stats';
import type { BlobStore } from '../storage/blob-store';
import type { ResultDesk } from '../verification/result-desk';
import type { Dispatcher } from './dispatcher';
import type { GuardedWrites } from './guarded-writes';
import type { LeaseKeeper } from './lease-keeper';
import type { EndedHold, LeaseActions } from './ports';
import { openRooms, type SchedulerConfig, type SchedulerRuntime } from './rooms';
import { VolunteerSession, type Sessions, type VolunteerSocket } from './sessions';
import type { TaskStore } from '../store/task-store';
import type { AssignmentRecord, TaskRecord } from '../store/records';
import { isLostLease } from '../store/task-rules';

export { VolunteerSession, type VolunteerSocket } from './sessions';

/** Most connected volunteers `mayAnyoneTake` looks at before it assumes someone can (rule V5). */
const REPLICA_PEERS_LOOKED = 256;
export type { SchedulerConfig, SchedulerRuntime } from './rooms';

/** What the scheduler tells the outside world (the live namespace implements it). */
export interface SchedulerEvents {
  /** `assignment` is null when the server referee's result was published. */
  resultStored(task: TaskRecord, assignment: AssignmentRecord | null): void;
  taskChanged(task: TaskRecord): void;
}

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
    const rooms = openRooms(this, {
      store,
      blobs,
      config,
      model,
      stats,
      log,
      runtime,
      stopped: () => this.stopped,
    });
    ({ clock: this.clock, sessions: this.sessions, writes: this.writes, desk: this.desk } = rooms);
    ({ keeper: this.keeper, dispatcher: this.dispatcher } = rooms);
  }

  /** Tasks whose results wait for a replica or the referee's turn (rule V5). */
  get refereeWaiting(): number {
    return this.desk.refereeWaiting;
  }

  get volunteersOnline(): number {
    return this.sessions.size;
  }

  /**
   * Connected volunteers by state (PROTOCOL.md rule L11): `ready` ones can take work now (not
   * paused, not quarantined); `working` ones hold a task.
   */
  volunteerCounts(): VolunteerCounts {
    const counts = { online: this.sessions.size, ready: 0, working: 0, paused: 0, quarantined: 0 };
    for (const session of this.sessions.values()) {
      if (session.held.size > 0) counts.working++;
      if (!session.accepting) counts.paused++;
      else if (this.desk.standing(session.id) === 'quarantined') counts.quarantined++;
      else counts.ready++;
    }
    return counts;
  }

  /** The client address of a connected volunteer, if it is connected. */
  addressOf(volunteerId: string): string | undefined {
    return this.sessions.get(volunteerId)?.address;
  }

  /**
   * A new identity starts with its network's stall halvings (rule V11, issue 17 E), before it
   * connects: its first limit already counts them.
   */
  inheritStalls(volunteerId: string, halvings: number): void {
    this.keeper.stalls.inherit(volunteerId, halvings);
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
    this.desk.seen(volunteerId, session.address);
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
  async result(
    session: VolunteerSession,
    payload: TaskResult,
  ): Promise<Ack<{ accepted: boolean; duplicate: boolean }>> {
    try {
      this.writes.assertStorage();
      return await this.keeper.bookOf(payload.assignmentId).result(session, payload, this.clock.now());
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
    const outcome = ended?.assignment.outcome ?? null;
    if (ended && isLostLease(outcome)) {
      // Rule T13: against the volunteer and its network (not offered the task again), never
      // against the task. An untrusted volunteer's departure or missed ack is a decline (V11); a
      // lapse is a stall already, a refused offer a decline where it is refused.
      const gone =
        outcome === 'ack_timeout' || (outcome === 'volunteer_left' && !this.sessions.has(volunteerId));
      if (gone && this.desk.untrusted(volunteerId)) this.keeper.declined(volunteerId);
      this.desk.lost(ended.task, volunteerId);
    }
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

  resultStored(
    task: TaskRecord,
    assignment: AssignmentRecord | null,
    from?: { volunteerId: string; receivedAt: number },
  ): void {
    const now = this.clock.now();
    this.stats.result.add(now - task.submittedAt, now);
    if (assignment?.inferenceMs != null) this.stats.inference.add(assignment.inferenceMs, now);
    this.stats.sink.taskDone(
      from?.volunteerId ?? '',
      from?.receivedAt ?? 0,
      from !== undefined && this.store.queuedCount > 0,
    );
    this.events.resultStored(task, assignment);
  }

  answered(session: VolunteerSession): void {
    this.keeper.limit(session);
  }

  mayAnyoneTake(taskId: string, counts: (volunteerId: string, address: string) => boolean): boolean {
    if (this.store.shared) return true; // other gateways' volunteers may take it (Redis)
    let looked = 0;
    for (const s of this.sessions.values()) {
      // Bounded: at scale someone eligible is nearly always among the first; past the bound, wait.
      if (++looked > REPLICA_PEERS_LOOKED) return true;
      if (s.accepting && !this.store.excludes(taskId, s.id) && counts(s.id, s.address)) return true;
    }
    return false;
  }

  declined(volunteerId: string): void {
    this.keeper.declined(volunteerId);
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
