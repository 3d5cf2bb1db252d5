import type { Socket } from 'socket.io';
import {
  TabgridError,
  fail,
  ok,
  type Ack,
  type ErrorCode,
  type Hello,
  type ModelInfo,
  type TaskErrorReport,
  type TaskAssignment,
  type TaskResult,
  type VolunteerClientToServer,
  type VolunteerServerToClient,
  type VolunteerCounts,
} from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { systemClock, type Clock } from '../clock';
import type { ServerConfig } from '../config';
import type { LiveStatsTracker } from '../live/live-stats';
import type { ErrorSink } from '../observability/error-sink';
import type { DispatchGate } from '../observability/health';
import type { BlobStore } from '../storage/blob-store';
import { ImageCache } from '../storage/image-cache';
import { classifyStorageError } from '../storage/storage-errors';
import type { TaskStore } from './task-store';
import { PartialBatchError, type AssignmentRecord, type EndedLease, type TaskRecord } from './types';
import type { Judgement, Verifier } from '../verification/verifier';
import type { CreditKeeper } from '../ledger/credit-keeper';
import type { CanaryDesk } from '../verification/canaries';
import { StallPolicy } from '../verification/stall-policy';
import type { VerificationMetrics } from '../verification/verification-metrics';
import { impossibleResultReason } from './validate-result';

export type VolunteerSocket = Socket<VolunteerClientToServer, VolunteerServerToClient>;

/** What the scheduler tells the outside world (the live namespace implements it). */
export interface SchedulerEvents {
  /** `assignment` is null when the server referee's result was published. */
  resultStored(task: TaskRecord, assignment: AssignmentRecord | null): void;
  taskChanged(task: TaskRecord): void;
}

/** One connected volunteer, as the dispatcher sees it. */
export class VolunteerSession {
  readonly held = new Set<string>();
  accepting = true;
  /**
   * Set when an offer went unacknowledged: no more offers until the volunteer
   * shows signs of life (any inbound packet, including Socket.IO's pong), so a
   * connection that died silently does not burn every queued task's attempts
   * before the ping timeout notices.
   */
  unresponsive = false;
  /** Public name and client address (apps/server/src/identity). */
  displayName = '';
  address = '';
  constructor(
    readonly id: string,
    readonly socket: VolunteerSocket,
    /** Most tasks its slots ask for (slots + prefetch, capped); `maxInFlight` may be lower (rule V11). */
    readonly wantedInFlight: number,
  ) {
    this.maxInFlight = wantedInFlight;
  }
  /** Most tasks this volunteer may hold at once now. */
  maxInFlight: number;
}

/** Most offers made in one event-loop turn before yielding to I/O. */
const PUMP_BATCH = 64;
/** Longest stretch of socket writes for offers in one event-loop turn (ms). */
const SEND_SLICE_MS = 10;

/**
 * An offer's lease in the store: only a backstop (the ack timeout proper runs
 * from the emit, in emitOffer), long enough that a slow image read or a burst
 * of offers never lapses an offer before it was even sent.
 */
const OFFER_BACKSTOP_MS = 30_000;
/** A lease check this late (ms) means the server stalled (see checkLeases). */
const STALL_TOLERANCE_MS = 500;
/** Most leases lapsed per check. */
const LAPSE_BATCH = 500;
/** A lease write (ack, release) that failed is tried again this many times, backing off from RETRY_BASE_MS. */
const WRITE_RETRIES = 5;
const RETRY_BASE_MS = 100;

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
  Partial<Pick<ServerConfig, 'maxTasksPerIp'>>;

/**
 * Pushes queued tasks to connected volunteers and keeps their leases:
 * least-loaded volunteers first, each at most its own in-flight limit (its
 * announced slots running plus one prefetched, see `inFlightLimit`), every offer acked within `ackTimeoutMs`, leases renewed by
 * heartbeat, lapsed or orphaned work returned to the queue at once.
 */
export class Scheduler {
  private readonly sessions = new Map<string, VolunteerSession>();
  /** Tasks held per client address (rule I6: at most `maxTasksPerIp`, 0 = no limit). */
  private readonly heldByAddress = new Map<string, number>();
  /** Accepting volunteers with room, indexed by how many tasks they hold (0 .. maxInFlightCap-1). */
  private readonly byLoad: Set<VolunteerSession>[];
  private readonly labels: ReadonlySet<string>;
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;
  private lastLeaseCheck = 0;
  private readonly outbox: (() => void)[] = [];
  private draining = false;
  private readonly images: ImageCache;
  private timers: NodeJS.Timeout[] = [];
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly clock: Clock;
  private readonly errors: ErrorSink;
  private readonly gate: DispatchGate;
  private readonly verifier: Verifier | undefined;
  private readonly refereeAfterMs: number;
  private readonly credits: CreditKeeper | undefined;
  /** Tasks whose results wait for a replica: the referee takes over when this fires. */
  private readonly refereeTimers = new Map<string, NodeJS.Timeout>();
  /** Volunteers that keep stalling lose slots (rule V11). */
  private readonly stalls = new StallPolicy();
  private readonly metrics: VerificationMetrics | undefined;
  private readonly canaries: CanaryDesk | undefined;

  constructor(
    private readonly store: TaskStore,
    private readonly blobs: BlobStore,
    private readonly config: SchedulerConfig,
    private readonly model: ModelInfo,
    private readonly stats: LiveStatsTracker,
    private readonly events: SchedulerEvents,
    private readonly log: FastifyBaseLogger,
    runtime: SchedulerRuntime,
  ) {
    this.clock = runtime.clock ?? systemClock;
    this.errors = runtime.errors;
    this.gate = runtime.gate;
    this.verifier = runtime.verifier;
    this.refereeAfterMs = runtime.refereeAfterMs ?? 3000;
    this.credits = runtime.credits;
    this.metrics = runtime.metrics;
    this.canaries = runtime.canaries;
    // A canary a quarantined volunteer may be waiting for is ready (rule V12).
    this.canaries?.onReady(() => this.pump());
    this.images = new ImageCache(blobs);
    this.byLoad = Array.from({ length: Math.max(1, config.maxInFlightCap) }, () => new Set());
    this.labels = new Set(model.labels);
  }

  get volunteersOnline(): number {
    return this.sessions.size;
  }

  /**
   * Connected volunteers by state (PROTOCOL.md rule L10): `ready` ones can take work now (not
   * paused, not quarantined); `working` ones hold a task.
   */
  volunteerCounts(): VolunteerCounts {
    const counts = { online: this.sessions.size, ready: 0, working: 0, paused: 0, quarantined: 0 };
    for (const session of this.sessions.values()) {
      const quarantined = this.verifier?.standing(session.id) === 'quarantined';
      if (session.held.size > 0) counts.working++;
      if (!session.accepting) counts.paused++;
      else if (quarantined) counts.quarantined++;
      else counts.ready++;
    }
    return counts;
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

  /**
   * The database is back after `downMs`: leases could not be renewed meanwhile, so
   * they are pushed back by the outage (as after a stall), then dispatch resumes.
   */
  resume(downMs: number): void {
    if (this.stopped) return;
    this.log.info({ downMs }, 'database back; extending live leases and resuming dispatch');
    this.write('scheduler.resume', () => this.store.extendLiveLeases(downMs));
    this.pump();
  }

  /** Queued tasks past their deadline fail. Skipped while the database is down. */
  checkDeadlines(): void {
    if (this.stopped || !this.gate.dispatchAllowed()) return;
    this.write('scheduler.deadlines', () => {
      const overdue = this.store.failOverdue(this.clock.now());
      this.stats.sink.overdue(overdue);
      overdue.forEach((t) => this.events.taskChanged(t));
    });
  }

  /**
   * Runs a store write from a background path (timer, offer, disconnect).
   * If it throws, the error goes to the error sink, and a database fault also
   * opens the breaker (dispatch pauses until the health probe sees the
   * database work again). Returns whether it succeeded.
   */
  private write(where: string, fn: () => void, context?: Record<string, unknown>): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.fault(where, err, context);
      return false;
    }
  }

  private fault(where: string, err: unknown, context?: Record<string, unknown>): void {
    const cause = err instanceof PartialBatchError ? err.cause : err;
    this.errors.report(where, cause, context);
    if (classifyStorageError(cause)) this.gate.markFailed('database', cause);
  }

  /**
   * `write`, tried again up to WRITE_RETRIES times with backoff if it fails;
   * after that the lease's own expiry settles it (the database stays the truth).
   * While the breaker is open the write waits without using up its tries: a
   * locked database would block the event loop for its busy timeout each time.
   */
  private writeWithRetry(where: string, fn: () => void, context: Record<string, unknown>, attempt = 0): void {
    if (this.stopped) return;
    let next = attempt;
    if (this.gate.dispatchAllowed()) {
      if (this.write(where, fn, { ...context, attempt })) return;
      next++;
      if (next >= WRITE_RETRIES) {
        this.log.warn({ where, ...context }, 'giving up the write; the lease expiry will settle it');
        return;
      }
    }
    this.later(() => this.writeWithRetry(where, fn, context, next), next);
  }

  /** Runs `fn` after the backoff for try number `attempt` (100 ms, 200 ms, … at most 1.6 s). */
  private later(fn: () => void, attempt: number): void {
    const timer = setTimeout(
      () => {
        this.retries.delete(timer);
        fn();
      },
      RETRY_BASE_MS * 2 ** Math.min(attempt, WRITE_RETRIES - 1),
    );
    timer.unref();
    this.retries.add(timer);
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
    session.maxInFlight = this.stalls.limit(volunteerId, session.wantedInFlight);
    session.displayName = identity.displayName ?? '';
    session.address = identity.address ?? '';
    this.sessions.set(volunteerId, session);
    this.reindex(session);
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
    this.sessions.delete(volunteerId);
    this.unindex(session);
    this.stats.sink.volunteerLeft(volunteerId);
    this.countHeld(session, -session.held.size);
    session.held.clear();
    this.canaries?.endVolunteer(volunteerId);
    this.releaseVolunteer(volunteerId);
    this.pump();
  }

  /** Returns a departed volunteer's leases to the queue; retried if the database fails meanwhile. */
  private releaseVolunteer(volunteerId: string, attempt = 0): void {
    // Back already: its new connection holds new leases, and the old ones lapse by themselves.
    if (this.stopped || (attempt > 0 && this.sessions.has(volunteerId))) return;
    if (!this.gate.dispatchAllowed()) {
      this.later(() => this.releaseVolunteer(volunteerId, attempt), attempt);
      return;
    }
    try {
      for (const e of this.store.releaseVolunteer(volunteerId, this.clock.now())) this.leaseEnded(e, false);
    } catch (err) {
      if (err instanceof PartialBatchError) for (const e of err.done) this.leaseEnded(e, false);
      this.fault('scheduler.disconnect', err, { volunteerId, attempt });
      if (attempt + 1 >= WRITE_RETRIES) return;
      this.later(() => this.releaseVolunteer(volunteerId, attempt + 1), attempt + 1);
    }
  }

  /** Any packet arrived from this volunteer: it is alive, offers may resume. */
  alive(session: VolunteerSession): void {
    if (!session.unresponsive) return;
    session.unresponsive = false;
    this.reindex(session);
    this.pump();
  }

  setAccepting(session: VolunteerSession, accepting: boolean): void {
    session.accepting = accepting;
    this.reindex(session);
    if (accepting) this.pump();
  }

  // ----------------------------------------------------------- dispatch

  /** Assigns queued tasks to volunteers with room, least loaded first. Re-entrant calls coalesce. */
  pump(): void {
    if (this.stopped || !this.gate.dispatchAllowed()) return;
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
          if (this.store.queuedCount === 0) break;
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
          const session = this.leastLoaded(skip);
          if (!session) break;
          const canary = this.canaryFor(session);
          if (canary === 'none') {
            skip.add(session); // quarantined, and no canary ready: nothing for it (rule V12)
            continue;
          }
          if (canary) {
            offered++;
            continue;
          }
          // The offer's lease in the store is only a backstop: the ack timeout proper starts
          // when the offer is emitted (see offer()), after the image is read.
          let next: ReturnType<TaskStore['assignNext']>;
          try {
            next = this.store.assignNext(
              session.id,
              this.clock.now(),
              Math.max(OFFER_BACKSTOP_MS, 3 * this.config.ackTimeoutMs),
            );
          } catch (err) {
            // Nothing changed (the task is still queued); the breaker decides when to try again.
            this.fault('scheduler.assign', err, { volunteerId: session.id });
            this.pumpAgain = false;
            return;
          }
          if (!next) {
            skip.add(session); // everything queued is excluded for this volunteer
            continue;
          }
          offered++;
          session.held.add(next.assignment.id);
          this.countHeld(session, 1);
          this.reindex(session);
          this.events.taskChanged(next.task);
          this.errors.watch('scheduler.offer', this.offer(session, next.task, next.assignment), {
            volunteerId: session.id,
            assignmentId: next.assignment.id,
          });
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /** Adds the volunteers it passes over for their verification cap to `skip` (one look per pump). */
  private leastLoaded(skip: Set<VolunteerSession>): VolunteerSession | null {
    for (const level of this.byLoad) {
      for (const s of level) {
        // A volunteer not trusted yet: not past its cap of unverified work (verifier.ts, maxUnverified).
        if (skip.has(s) || !this.addressHasRoom(s)) continue;
        if (this.verifier?.mayTakeMore(s.id, s.held.size) ?? true) return s;
        skip.add(s);
      }
    }
    return null;
  }

  private async offer(
    session: VolunteerSession,
    task: TaskRecord,
    assignment: AssignmentRecord,
  ): Promise<void> {
    let image: Buffer;
    try {
      image = await this.images.get(task.imageSha256);
    } catch (err) {
      this.errors.report('scheduler.image', err, { taskId: task.id });
      this.endLease(assignment.id, 'internal', false);
      return;
    }
    this.canaries?.observe(task, image, this.clock.now());
    const payload: TaskAssignment = {
      assignmentId: assignment.id,
      taskId: task.id,
      jobId: task.jobId,
      name: task.name,
      width: task.width,
      height: task.height,
      mime: task.mime,
      imageSha256: task.imageSha256,
      image,
      leaseMs: this.config.leaseMs,
    };
    // The ack is written in the ack's own callback, not after this await: a result that arrives
    // in the same network read as its ack is handled before any continuation here, and would
    // otherwise complete an assignment whose ack was never recorded (ackedAt null, no ack latency).
    // If the ack cannot be written, the volunteer still runs the task: its heartbeats renew the
    // offer's lease and its result completes the task. The write is retried meanwhile.
    const answer = await this.deliver(session, payload, () =>
      this.writeWithRetry(
        'scheduler.ack',
        () => {
          const now = this.clock.now();
          const acked = this.store.ack(assignment.id, now, this.config.leaseMs);
          if (acked?.ackedAt != null) this.stats.ack.add(acked.ackedAt - acked.assignedAt, now);
        },
        { volunteerId: session.id, assignmentId: assignment.id },
      ),
    );
    if (answer === 'gone') return;
    if (answer === 'timeout') {
      this.log.warn({ volunteerId: session.id, assignmentId: assignment.id }, 'no ack in time; requeueing');
      session.unresponsive = true;
      this.reindex(session);
      this.endLease(assignment.id, 'ack_timeout', true);
      return;
    }
    if (!answer || answer.ok !== true) {
      this.endLease(assignment.id, 'volunteer_left', false);
    }
  }

  /** Sends an offer (in the outbox's turn) and waits for its ack; `gone` if it ended meanwhile. */
  private deliver(
    session: VolunteerSession,
    payload: TaskAssignment,
    onAccepted?: () => void,
  ): Promise<Ack<{ accepted: true }> | 'timeout' | 'gone'> {
    return new Promise((resolve) =>
      this.sendSoon(() => {
        if (!session.held.has(payload.assignmentId) || session.socket.disconnected) return resolve('gone');
        this.stats.sink.offering(session.id);
        void this.emitOffer(session, payload, onAccepted).then(resolve);
      }),
    );
  }

  /** Ends a lease without a result (retried if the write fails; the lease's expiry is the backstop). */
  private endLease(assignmentId: string, outcome: ErrorCode, tellVolunteer: boolean): void {
    this.writeWithRetry(
      'scheduler.release',
      () => {
        const ended = this.store.release(assignmentId, outcome, this.clock.now());
        if (ended) this.leaseEnded(ended, tellVolunteer);
      },
      { assignmentId, outcome },
    );
  }

  /**
   * Sends are queued and written in slices of at most SEND_SLICE_MS per
   * event-loop turn. Thousands of offers waiting on one image read would
   * otherwise all be written to their sockets in a single turn (seconds of
   * writev with 10,000 volunteers), starving the acks whose timeouts run.
   */
  private sendSoon(send: () => void): void {
    this.outbox.push(send);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drainOutbox());
    }
  }

  private drainOutbox(): void {
    const deadline = performance.now() + SEND_SLICE_MS;
    let i = 0;
    while (i < this.outbox.length && performance.now() < deadline) this.outbox[i++]!();
    this.outbox.splice(0, i);
    if (this.outbox.length > 0) setImmediate(() => this.drainOutbox());
    else this.draining = false;
  }

  /**
   * Emits an offer and waits for its ack, at most `ackTimeoutMs` from now. When
   * the timer fires, the decision waits one `setImmediate`, so that acks already
   * received but not yet read (the poll phase runs before the check phase) still
   * count: a busy server must not blame volunteers for its own event-loop lag.
   * An ack that arrives after the decision is ignored (the lease was released and
   * the volunteer told with `task:cancel`).
   */
  private emitOffer(
    session: VolunteerSession,
    payload: TaskAssignment,
    /** Runs synchronously in the ack's callback when the volunteer accepted (see `offer`). */
    onAccepted?: () => void,
  ): Promise<Ack<{ accepted: true }> | 'timeout'> {
    return new Promise((resolve) => {
      let settled = false;
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            settled = true;
            resolve('timeout');
          }),
        this.config.ackTimeoutMs,
      );
      session.socket.emit('task:assign', payload, (answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (answer?.ok === true) onAccepted?.();
        resolve(answer);
      });
    });
  }

  // ----------------------------------------------------------- volunteer reports

  /**
   * Renews the leases. Throws `TabgridError('storage_unavailable')` when the database
   * cannot take it; the leases are then extended by the outage when it is back (`resume`).
   */
  heartbeat(session: VolunteerSession, assignmentIds: string[]): { renewed: string[]; lost: string[] } {
    try {
      this.assertStorage();
      const now = this.clock.now();
      const canaries = this.canaries?.renew(session.id, assignmentIds, now, this.config.leaseMs) ?? [];
      const real = canaries.length ? assignmentIds.filter((id) => !canaries.includes(id)) : assignmentIds;
      const renewed = this.store.renew(session.id, real, now, this.config.leaseMs);
      return { renewed: [...renewed.renewed, ...canaries], lost: renewed.lost };
    } catch (err) {
      const refused = this.refusal('scheduler.heartbeat', err, session);
      throw new TabgridError(refused.code, refused.message);
    }
  }

  /** Fails fast while the breaker is open: a locked database would block the event loop for its busy timeout. */
  private assertStorage(): void {
    if (!this.gate.dispatchAllowed()) throw new StorageUnavailable();
  }

  /** The ack for a volunteer request that failed: `storage_unavailable` (retry) for dependency faults. */
  private refusal(
    where: string,
    err: unknown,
    session: VolunteerSession,
  ): Extract<Ack<never>, { ok: false }> {
    if (err instanceof StorageUnavailable) {
      return { ok: false, code: 'storage_unavailable', message: err.message };
    }
    this.fault(where, err, { volunteerId: session.id });
    return classifyStorageError(err)
      ? {
          ok: false,
          code: 'storage_unavailable',
          message: 'the server cannot write to its database right now; send the same again in a few seconds',
        }
      : { ok: false, code: 'internal', message: 'internal error' };
  }

  /**
   * A volunteer's result. If it cannot be stored (database down), nothing changes:
   * the lease stays, and the ack is `storage_unavailable`, so the volunteer sends
   * it again (or the lease lapses and the task runs again).
   */
  result(session: VolunteerSession, payload: TaskResult): Ack<{ accepted: boolean; duplicate: boolean }> {
    try {
      this.assertStorage();
      return this.storeResult(session, payload);
    } catch (err) {
      return this.refusal('scheduler.result', err, session);
    }
  }

  private storeResult(
    session: VolunteerSession,
    payload: TaskResult,
  ): Ack<{ accepted: boolean; duplicate: boolean }> {
    const receivedAt = performance.now();
    const now = this.clock.now();
    if (this.canaries?.owns(payload.assignmentId)) return this.canaryResult(session, payload, now);
    const assignment = this.store.getAssignment(payload.assignmentId);
    if (!assignment || assignment.volunteerId !== session.id) {
      return fail('not_holder', `assignment ${payload.assignmentId} is not held by this volunteer`);
    }
    const task = this.store.getTask(assignment.taskId)!;
    if (task.status !== 'done') {
      const reason = impossibleResultReason(payload.detections, task, this.labels);
      if (reason) {
        this.log.warn(
          { volunteerId: session.id, assignmentId: assignment.id, reason },
          'impossible result rejected',
        );
        const ended = this.store.release(assignment.id, 'impossible_result', now, !!this.verifier);
        if (ended) this.leaseEnded(ended, false);
        if (this.verifier?.caught(session.id, 'impossible', now)) this.backtrack([session.id]);
        return fail('impossible_result', reason);
      }
    }
    const judgement = this.judge(session, task, assignment, payload, now);
    const outcome = this.store.complete(
      assignment.id,
      session.id,
      payload.detections,
      payload.inferenceMs,
      now,
      judgement ? (judgement.kind === 'final' ? judgement.mark : 'replicate') : null,
    );
    switch (outcome.kind) {
      case 'rejected':
        return fail(outcome.code, outcome.message);
      case 'duplicate':
        return ok({ accepted: false, duplicate: true });
      case 'accepted': {
        this.stallEnded(session);
        this.dropHeld(outcome.assignment);
        this.credits?.resultAccepted(outcome.assignment, judgement, now);
        if (judgement?.caught.length) this.backtrack(judgement.caught);
        if (judgement?.kind === 'replicate') {
          // Kept, not final: the task runs again elsewhere (rule V3). The ack is the same.
          // Results that disagree go to the referee at once (V5), not after the replica wait.
          if (this.verifier?.isDisputed(outcome.task.id)) {
            this.clearReferee(outcome.task.id);
            this.awaitReferee(outcome.task.id, 0);
          } else this.awaitReferee(outcome.task.id);
          this.events.taskChanged(outcome.task);
          this.pump();
          return ok({ accepted: true, duplicate: false });
        }
        this.clearReferee(outcome.task.id);
        for (const other of outcome.superseded) {
          this.dropHeld(other);
          this.sessions.get(other.volunteerId)?.socket.emit('task:cancel', {
            assignmentId: other.id,
            reason: 'task_completed',
          });
        }
        this.countSettled(outcome.task, now, payload.inferenceMs, { id: session.id, receivedAt });
        this.events.resultStored(outcome.task, outcome.assignment);
        this.events.taskChanged(outcome.task);
        this.pump();
        return ok({ accepted: true, duplicate: false });
      }
    }
  }

  taskError(session: VolunteerSession, payload: TaskErrorReport): Ack<{ requeued: boolean }> {
    if (this.canaries?.owns(payload.assignmentId)) return this.canaryError(session, payload);
    let outcome: ReturnType<TaskStore['reportFailure']>;
    try {
      this.assertStorage();
      outcome = this.store.reportFailure(
        payload.assignmentId,
        session.id,
        payload.code,
        payload.message,
        this.clock.now(),
        // Failure reports count only from trusted volunteers (rule V6), so made-up identities
        // cannot fail a task: it runs elsewhere instead. The ack is the same. `undecodable` never
        // counts: the server decoded the image at upload, the referee checks the claim (rule V10).
        !this.verifier ||
          (payload.code !== 'undecodable' && this.verifier.standing(session.id) === 'trusted'),
      );
    } catch (err) {
      return this.refusal('scheduler.taskError', err, session);
    }
    if (outcome.kind === 'rejected') return fail(outcome.code, outcome.message);
    this.stats.sink.taskReported(outcome.task, payload.code);
    if (this.verifier && payload.code === 'undecodable') {
      this.errors.watch('scheduler.undecodable', this.checkUndecodable(session.id, outcome.task), {
        volunteerId: session.id,
        taskId: outcome.task.id,
      });
    }
    this.dropHeld(outcome.assignment);
    this.events.taskChanged(outcome.task);
    this.pump();
    return ok({ requeued: outcome.task.status === 'queued' });
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
    for (const a of leases) {
      this.dropHeld(a);
      this.sessions
        .get(a.volunteerId)
        ?.socket.emit('task:cancel', { assignmentId: a.id, reason: 'cancelled' });
    }
    // Its canaries go too, held ones cancelled as its real tasks are (rule V12).
    for (const c of this.canaries?.forgetJob(jobId) ?? []) {
      this.endCanary(c.volunteerId, c.assignmentId, 'cancelled');
    }
    for (const t of tasks) this.events.taskChanged(t);
    if (leases.length > 0) this.pump();
  }

  // ----------------------------------------------------------- verification

  /** What verification makes of a fresh result (null: verification off, or nothing to judge). */
  private judge(
    session: VolunteerSession,
    task: TaskRecord,
    assignment: AssignmentRecord,
    payload: TaskResult,
    now: number,
  ): Judgement | null {
    if (!this.verifier) return null;
    if (task.status !== 'queued' && task.status !== 'running') return null;
    if (['completed', 'failed', 'superseded'].includes(assignment.status)) return null;
    return this.verifier.judge(
      {
        taskId: task.id,
        assignmentId: assignment.id,
        volunteerId: session.id,
        address: session.address,
        detections: payload.detections,
      },
      now,
    );
  }

  /** Rule V10: a false `undecodable` report is a wrong result (quarantine and backtracking). */
  private async checkUndecodable(volunteerId: string, task: TaskRecord): Promise<void> {
    const loadImage = () => this.images.get(task.imageSha256);
    if (await this.verifier?.checkUndecodable(volunteerId, loadImage, () => this.clock.now())) {
      this.log.warn({ volunteerId, taskId: task.id }, 'false undecodable report; volunteer quarantined');
      this.backtrack([volunteerId]);
    }
  }

  /** Bounded wait (rule V5): if no independent replica settles the task in time, the referee does. */
  private awaitReferee(taskId: string, delayMs = this.refereeAfterMs): void {
    if (!this.verifier?.referee || this.refereeTimers.has(taskId) || this.stopped) return;
    const timer = setTimeout(() => {
      this.refereeTimers.delete(taskId);
      this.errors.watch('scheduler.referee', this.runReferee(taskId), { taskId });
    }, delayMs);
    timer.unref();
    this.refereeTimers.set(taskId, timer);
  }

  private clearReferee(taskId: string): void {
    const timer = this.refereeTimers.get(taskId);
    if (timer) clearTimeout(timer);
    this.refereeTimers.delete(taskId);
  }

  private async runReferee(taskId: string): Promise<void> {
    const task = this.store.getTask(taskId);
    if (!task || task.status === 'done' || task.status === 'failed' || !this.verifier) {
      this.verifier?.forget(taskId);
      return;
    }
    let judgement: Awaited<ReturnType<Verifier['settleByReferee']>>;
    try {
      const image = await this.images.get(task.imageSha256);
      judgement = await this.verifier.settleByReferee(taskId, image, () => this.clock.now());
    } catch (err) {
      this.errors.report('scheduler.referee', err, { taskId });
      judgement = 'failed';
    }
    if (judgement === null) return; // settled already
    if (judgement === 'failed' || judgement === 'over_budget') {
      // Tried again with backoff (rule V9); a third volunteer may break the tie meanwhile.
      const delay = this.verifier.retryAfter(taskId, judgement);
      if (judgement === 'failed') this.log.warn({ taskId, retryInMs: delay }, 'referee run failed');
      if (delay !== null && this.verifier.isPending(taskId)) this.awaitReferee(taskId, delay);
      return;
    }
    if (judgement.kind !== 'final') return;
    if (judgement.caught.length) this.backtrack(judgement.caught);
    const done = this.store.finalize(
      taskId,
      judgement.detections,
      judgement.resultAssignmentId,
      judgement.mark,
      this.clock.now(),
    );
    this.credits?.settled(judgement, this.clock.now());
    if (!done) return;
    for (const other of done.superseded) {
      this.dropHeld(other);
      this.sessions
        .get(other.volunteerId)
        ?.socket.emit('task:cancel', { assignmentId: other.id, reason: 'task_completed' });
    }
    const by = judgement.resultAssignmentId ? this.store.getAssignment(judgement.resultAssignmentId) : null;
    this.countSettled(done.task, this.clock.now(), by?.inferenceMs ?? null);
    this.events.resultStored(done.task, by);
    this.events.taskChanged(done.task);
    this.pump();
  }

  /**
   * The one place a settled task is counted, whoever settled it (a volunteer's result, a
   * replica's or the referee's): `/live` (results per minute, latency, history) and
   * `tabgrid_tasks_total{outcome="done"}`. `volunteer` is the one whose result just arrived,
   * for the dispatch-overhead histogram; absent when the referee settled the task.
   */
  private countSettled(
    task: TaskRecord,
    now: number,
    inferenceMs: number | null,
    volunteer?: { id: string; receivedAt: number },
  ): void {
    this.stats.result.add(now - task.submittedAt, now);
    if (inferenceMs !== null) this.stats.inference.add(inferenceMs, now);
    this.stats.sink.taskDone(
      volunteer?.id ?? '',
      volunteer?.receivedAt ?? 0,
      volunteer !== undefined && this.store.queuedCount > 0,
    );
  }

  // ----------------------------------------------------------- canaries (rule V12)

  /**
   * Offers a canary instead of a real task when due: always to a quarantined volunteer, at the
   * canary rate to others. `none`: quarantined and no canary is ready (it gets nothing).
   */
  private canaryFor(session: VolunteerSession): boolean | 'none' {
    if (!this.canaries || !this.verifier) return false;
    const quarantined = this.verifier.standing(session.id) === 'quarantined';
    if (!this.canaries.wanted(quarantined)) return false;
    const payload = this.canaries.take(session.id, this.clock.now(), this.config.leaseMs, quarantined);
    if (!payload) return quarantined ? 'none' : false;
    session.held.add(payload.assignmentId);
    this.countHeld(session, 1);
    this.reindex(session);
    const offered = async () => {
      const answer = await this.deliver(session, payload);
      if (answer === 'timeout') {
        session.unresponsive = true;
        this.endCanary(session.id, payload.assignmentId, 'ack_timeout');
      } else if (answer !== 'gone' && (!answer || answer.ok !== true)) {
        this.endCanary(session.id, payload.assignmentId, null);
      }
    };
    this.errors.watch('scheduler.offer', offered(), { volunteerId: session.id, canary: true });
    return true;
  }

  /** A canary's lease ended without a result; `reason`: tell the volunteer with `task:cancel`. */
  private endCanary(volunteerId: string, assignmentId: string, reason: ErrorCode | null): void {
    this.canaries?.end(assignmentId);
    const session = this.sessions.get(volunteerId);
    if (session?.held.delete(assignmentId)) {
      this.countHeld(session, -1);
      this.reindex(session);
      if (reason) session.socket.emit('task:cancel', { assignmentId, reason });
    }
    this.pump();
  }

  /** A canary's result: acked as a real one would be; a wrong or impossible one is caught. */
  private canaryResult(
    session: VolunteerSession,
    payload: TaskResult,
    now: number,
  ): Ack<{ accepted: boolean; duplicate: boolean }> {
    const desk = this.canaries!;
    const size = desk.heldBy(payload.assignmentId, session.id);
    if (!size) {
      // Its job was deleted: refused as a cancelled real task's late result is (rule T12).
      const cancelled = desk.cancelledFor(payload.assignmentId, session.id);
      if (cancelled) return fail('task_completed', `task ${cancelled} already failed`);
      return desk.answeredBy(payload.assignmentId) === session.id
        ? ok({ accepted: false, duplicate: true })
        : fail('not_holder', `assignment ${payload.assignmentId} is not held by this volunteer`);
    }
    const reason = impossibleResultReason(payload.detections, size, this.labels);
    if (reason) this.metrics?.canaries.inc({ outcome: 'failed' });
    const verdict = reason ? 'failed' : desk.judge(payload.assignmentId, session.id, payload.detections);
    // Judged before the slot frees (endCanary pumps): a caught liar gets no real task meanwhile.
    const caught =
      verdict !== 'passed' && !!this.verifier?.caught(session.id, reason ? 'impossible' : 'wrong', now);
    if (verdict === 'passed') this.verifier?.canaryPassed(session.id, now);
    this.endCanary(session.id, payload.assignmentId, null);
    if (verdict === 'passed') this.stallEnded(session);
    if (caught) {
      this.log.warn({ volunteerId: session.id }, 'canary answered wrong; volunteer quarantined');
      this.backtrack([session.id]);
    }
    return reason ? fail('impossible_result', reason) : ok({ accepted: true, duplicate: false });
  }

  /** A failure report on a canary: `undecodable` is false (the server made the image), others end it. */
  private canaryError(session: VolunteerSession, payload: TaskErrorReport): Ack<{ requeued: boolean }> {
    if (!this.canaries?.heldBy(payload.assignmentId, session.id)) {
      return fail('not_holder', `assignment ${payload.assignmentId} is not held by this volunteer`);
    }
    const caught =
      payload.code === 'undecodable' && !!this.verifier?.caught(session.id, 'wrong', this.clock.now());
    this.endCanary(session.id, payload.assignmentId, null);
    if (caught) this.backtrack([session.id]);
    return ok({ requeued: true });
  }

  /**
   * Backtracking (rule V7): every result these newly quarantined volunteers got final on trust
   * alone is revoked and its task queued again; requesters see the job running again.
   */
  private backtrack(volunteerIds: readonly string[]): void {
    for (const id of volunteerIds) {
      const revoked = this.store.trustedResultsOf(id);
      const reopened = this.store.reopen(revoked);
      this.credits?.caught(id, revoked, this.clock.now());
      if (reopened.length > 0) this.log.warn({ volunteerId: id, reopened: reopened.length }, 'backtracked');
      for (const t of reopened) this.events.taskChanged(t);
      // Results other gateways accepted (Redis): found and reopened in the shared store.
      void this.store
        .reopenElsewhere(id)
        .then((elsewhere) => {
          if (elsewhere.revoked.length === 0 || this.stopped) return;
          this.credits?.backtracked(id, elsewhere.revoked, this.clock.now());
          this.log.warn({ volunteerId: id, reopened: elsewhere.reopened.length }, 'backtracked elsewhere');
          for (const t of elsewhere.reopened) this.events.taskChanged(t);
        })
        .catch((err: unknown) => this.fault('scheduler.backtrack', err, { volunteerId: id }));
    }
    this.pump();
  }

  // ----------------------------------------------------------- leases

  /**
   * Lapses expired leases (lease expiry is read from the clock). Skipped while the
   * database is down: heartbeats could not be stored, so volunteers are not blamed.
   */
  checkLeases(): void {
    if (this.stopped) return;
    // If this check runs late, the event loop was blocked: heartbeats and acks may be
    // waiting unread. Extend live leases by the stall instead of lapsing them for it.
    // A stall is measured on the monotonic wall clock, whatever clock the leases use.
    const real = performance.now();
    const stall = this.lastLeaseCheck === 0 ? 0 : real - this.lastLeaseCheck - this.config.leaseCheckMs;
    this.lastLeaseCheck = real;
    if (!this.gate.dispatchAllowed()) return;
    if (stall > STALL_TOLERANCE_MS) {
      this.log.warn({ stallMs: Math.round(stall) }, 'event loop stalled; extending live leases');
      this.write('scheduler.stall', () => this.store.extendLiveLeases(Math.ceil(stall)));
      return;
    }
    // Bounded per check so a mass expiry cannot block the loop in one go.
    let ended: EndedLease[] = [];
    try {
      ended = this.store.lapseExpired(this.clock.now(), LAPSE_BATCH);
    } catch (err) {
      if (err instanceof PartialBatchError) ended = err.done;
      this.fault('scheduler.leases', err);
    }
    for (const e of ended) {
      if (e.assignment.outcome === 'lease_expired') this.stalled(e.assignment.volunteerId);
      this.leaseEnded(e, true);
    }
    for (const c of this.canaries?.lapse(this.clock.now()) ?? []) {
      this.stalled(c.volunteerId);
      this.endCanary(c.volunteerId, c.assignmentId, 'lease_expired');
    }
    // A quarantined volunteer waiting for a canary: its refresh turn may have come (rule V12).
    if (ended.length > 0 || this.canaries?.refreshDue(this.clock.now())) this.pump();
  }

  /** An acked lease lapsed (rule V11): the volunteer may hold fewer tasks until it answers again. */
  private stalled(volunteerId: string): void {
    const session = this.sessions.get(volunteerId);
    this.stalls.stalled(volunteerId, session?.wantedInFlight ?? this.config.maxInFlightCap);
    this.metrics?.stalls.inc();
    if (session) this.stallEnded(session, false);
  }

  /** Recomputes a volunteer's task limit; `answered`: it returned a result (one halving undone). */
  private stallEnded(session: VolunteerSession, answered = true): void {
    if (answered) this.stalls.answered(session.id);
    session.maxInFlight = this.stalls.limit(session.id, session.wantedInFlight);
    this.reindex(session);
  }

  /** Bookkeeping after a lease ended without a result. */
  private leaseEnded(ended: EndedLease, tellVolunteer: boolean): void {
    this.stats.sink.leaseEnded(ended);
    this.dropHeld(ended.assignment);
    if (tellVolunteer) {
      this.sessions.get(ended.assignment.volunteerId)?.socket.emit('task:cancel', {
        assignmentId: ended.assignment.id,
        reason: (ended.assignment.outcome ?? 'lease_expired') as ErrorCode,
      });
    }
    this.events.taskChanged(ended.task);
    this.pump();
  }

  private dropHeld(assignment: AssignmentRecord): void {
    const session = this.sessions.get(assignment.volunteerId);
    if (session?.held.delete(assignment.id)) {
      this.countHeld(session, -1);
      this.reindex(session);
    }
  }

  private countHeld(session: VolunteerSession, delta: number): void {
    const n = (this.heldByAddress.get(session.address) ?? 0) + delta;
    if (n > 0) this.heldByAddress.set(session.address, n);
    else this.heldByAddress.delete(session.address);
  }

  private addressHasRoom(session: VolunteerSession): boolean {
    const max = this.config.maxTasksPerIp ?? 0;
    return max <= 0 || (this.heldByAddress.get(session.address) ?? 0) < max;
  }

  private unindex(session: VolunteerSession): void {
    for (const level of this.byLoad) level.delete(session);
  }

  private reindex(session: VolunteerSession): void {
    this.unindex(session);
    if (this.sessions.get(session.id) !== session || !session.accepting || session.unresponsive) return;
    if (session.held.size < session.maxInFlight) this.byLoad[session.held.size]?.add(session);
  }

  /**
   * Graceful shutdown: stop dispatching, hand every lease back to the queue
   * (so a restart picks them up at once) and tell volunteers.
   */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const t of this.retries) clearTimeout(t);
    for (const t of this.refereeTimers.values()) clearTimeout(t);
    this.refereeTimers.clear();
    this.retries.clear();
    const now = this.clock.now();
    // A lease that cannot be handed back now is treated as lapsed by the next start's recovery;
    // with the database down it is not even tried (each try could wait out the busy timeout).
    const canWrite = this.gate.dispatchAllowed();
    for (const session of this.sessions.values()) {
      for (const id of canWrite ? [...session.held] : []) {
        this.write('scheduler.stop', () => {
          const ended = this.store.release(id, 'shutting_down', now);
          if (ended) session.socket.emit('task:cancel', { assignmentId: id, reason: 'shutting_down' });
        });
      }
      session.held.clear();
    }
  }
}

/** The breaker is open: requests that need a database write are refused at once. */
class StorageUnavailable extends Error {
  override readonly name = 'StorageUnavailable';
  constructor() {
    super('the server cannot write to its database right now; send the same again in a few seconds');
  }
}
