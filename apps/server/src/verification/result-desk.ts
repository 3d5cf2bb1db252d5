import type { Detection, ErrorCode } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { CreditKeeper } from '../ledger/credit-keeper';
import type { ErrorSink } from '../observability/error-sink';
import type { LeaseActions } from '../scheduling/ports';
import type { TaskStore } from '../store/task-store';
import type { AssignmentRecord, TaskRecord, VerificationMark } from '../store/records';
import { shown } from './agreement';
import type { EdgeMemory } from '../edges/edge-memory';
import { LossLedger, type LossPolicy } from './loss-ledger';
import type { RefereeOutcome } from './referee';
import { RefereeTakeover } from './referee-takeover';
import type { Standing } from './reputation';
import type { Assessment, Verifier } from './verifier';

/** What the desk needs around it: the store's reads and verdict writes, the clock, the sinks. */
export interface ResultDeskDeps {
  store: Pick<
    TaskStore,
    | 'getTask'
    | 'getAssignment'
    | 'finalize'
    | 'failTask'
    | 'publishedResultsOf'
    | 'reopen'
    | 'reopenElsewhere'
  >;
  actions: LeaseActions;
  /** Reads a task's image (for the referee). */
  image: (sha256: string) => Promise<Uint8Array>;
  clock: Clock;
  errors: ErrorSink;
  /** Reports a failure; a database fault also opens the breaker. */
  fault: (where: string, err: unknown, context?: Record<string, unknown>) => void;
  log: FastifyBaseLogger;
  /** Result verification; without it every result is final. */
  verifier?: Verifier;
  /** The credit ledger; without it no credit is kept. */
  credits?: CreditKeeper;
  /** A result waiting for its replica this long (ms) goes to the referee. @defaultValue 3000 */
  refereeAfterMs?: number;
  /**
   * The loss rule (T13): networks that lost a task are not offered it again, and the referee runs
   * a task lost too often. Applies with a verifier whose referee runs; without, lost leases count
   * against the task as before (`lossesFailTasks`).
   */
  losses?: Omit<LossPolicy, 'maxTasks' | 'maxVolunteers'> & {
    /**
     * The edge memory: on Redis every gateway's losses are shared through it (kept `rememberMs`
     * after a task's latest loss); this process's memory (SQLite) adds nothing to the ledger's own.
     */
    memory?: EdgeMemory;
    rememberMs?: number;
  };
}

const unfinished = (t: TaskRecord) => t.status === 'queued' || t.status === 'running';

/** A fresh result to assess. */
export interface FreshResult {
  volunteerId: string;
  address: string;
  task: TaskRecord;
  assignment: AssignmentRecord;
  detections: Detection[];
}

/**
 * The verification room's desk in the scheduler (rules V3–V10): decide first, act after the
 * commit. `assess` says what a result means and changes nothing; the store then writes the
 * result, and only once that write succeeded does `commit` apply the verdict (reputations,
 * waiting results, credits, the referee's timer). A store that throws in between leaves the
 * verifier as it was, so a resent result is judged from the same state. The desk acts on the
 * core only through `LeaseActions`: the referee's verdicts, backtracking and its timers live here.
 */
export class ResultDesk {
  /** Tasks whose results wait for a replica: the referee takes over when this fires. */
  private readonly refereeTimers = new Map<string, NodeJS.Timeout>();
  private readonly verifier: Verifier | undefined;
  private readonly refereeAfterMs: number;
  /** Which networks lost each task (rule T13); null without a running referee. */
  private readonly losses: LossLedger | null = null;
  /** Tasks lost too often, which the referee runs itself (rule T13). */
  private readonly takeover: RefereeTakeover | null = null;
  private stopped = false;

  constructor(private readonly deps: ResultDeskDeps) {
    this.verifier = deps.verifier;
    this.refereeAfterMs = deps.refereeAfterMs ?? 3000;
    const referee = deps.verifier?.referee;
    if (referee?.enabled && deps.losses) {
      const { memory, rememberMs = 3_600_000, ...policy } = deps.losses;
      this.losses = new LossLedger(
        policy,
        memory && {
          memory,
          rememberMs,
          now: () => deps.clock.now(),
          neverOffered: (taskId) => (deps.store.getTask(taskId)?.attempts ?? 0) === 0,
          loaded: () => deps.actions.pump(),
          refereeDue: (taskId) => {
            const task = deps.store.getTask(taskId);
            if (task && unfinished(task) && !this.stopped) this.takeOver(task);
          },
          report: (err, taskId) => deps.errors.report('scheduler.losses', err, { taskId }),
        },
      );
      this.takeover = new RefereeTakeover({
        run: (image) => referee.run(image),
        image: async (taskId) => {
          const task = deps.store.getTask(taskId);
          return task && unfinished(task) ? deps.image(task.imageSha256) : null;
        },
        settled: (taskId, outcome) => this.settleTakenOver(taskId, outcome),
        gaveUp: (taskId, err) =>
          this.failTaken(
            taskId,
            'inference_failed',
            `the server's referee could not run it: ${err instanceof Error ? err.message : String(err)}`,
          ),
        report: (err, taskId) => deps.errors.report('scheduler.takeover', err, { taskId }),
      });
    }
  }

  /** Tasks whose results wait for a replica or the referee's turn (`tabgrid_referee_queue{state="waiting"}`). */
  get refereeWaiting(): number {
    return this.refereeTimers.size;
  }

  /** Whether results are verified (else every result is final, every report counts). */
  get verifying(): boolean {
    return this.verifier !== undefined;
  }

  standing(volunteerId: string): Standing | undefined {
    return this.verifier?.standing(volunteerId);
  }

  /** The cap of unverified work (verifier.ts, maxUnverified): may this volunteer get another offer? */
  mayTakeMore(volunteerId: string, held: number): boolean {
    return this.verifier?.mayTakeMore(volunteerId, held) ?? true;
  }

  /**
   * Whether the result of this fresh offer will need a replica, to offer it at once (rule V3;
   * `Verifier.planOffer`). False without verification.
   */
  planOffer(taskId: string, assignmentId: string, volunteerId: string): boolean {
    return this.verifier?.planOffer(taskId, assignmentId, volunteerId) ?? false;
  }

  /** An offer made as another's replica: its result waits for the other's (`Verifier.planReplica`). */
  planReplica(assignmentId: string): void {
    this.verifier?.planReplica(assignmentId);
  }

  /** Whether `second` may run the replica of a task offered to `first` (`Verifier.mayPair`). */
  mayPair(first: { id: string; address: string }, second: { id: string; address: string }): boolean {
    return this.verifier?.mayPair(first, second) ?? false;
  }

  /**
   * Whether a failure report counts toward failing its task (rules V6, T13). With a running
   * referee none does, trusted or not: the report is a lost lease (`lost`), against the volunteer
   * and its network, and after repeated reports the referee decides (the task fails only if it
   * cannot decode or run it either). Without a referee only a trusted volunteer's counts, never
   * `undecodable` (the server decoded the image at upload; the referee checks it, V10).
   */
  reportCounts(volunteerId: string, code: string): boolean {
    if (this.losses) return false;
    return !this.verifier || (code !== 'undecodable' && this.verifier.standing(volunteerId) === 'trusted');
  }

  /** What verification makes of a fresh result, changing nothing (null: off, or nothing to judge). */
  assess(r: FreshResult, now: number): Assessment | null {
    if (!this.verifier) return null;
    if (r.task.status !== 'queued' && r.task.status !== 'running') return null;
    if (['completed', 'failed', 'superseded'].includes(r.assignment.status)) return null;
    return this.verifier.assess(
      {
        taskId: r.task.id,
        assignmentId: r.assignment.id,
        volunteerId: r.volunteerId,
        address: r.address,
        detections: r.detections,
      },
      now,
    );
  }

  /**
   * What the store publishes with a fresh result (rule V8): the verdict's detections when it is
   * final (what the agreeing pair backs, or a trusted result's shown ones), else the result's own
   * shown detections (verification off; a result kept for a replica publishes nothing yet).
   * Volunteers report down to the floor (0.15); nothing under 0.25 is ever published.
   */
  published(a: Assessment | null, detections: readonly Detection[]): Detection[] {
    return a?.judgement.kind === 'final' ? a.judgement.detections : shown(detections);
  }

  /** How the store marks the result (`replicate`: keep it, run the task again elsewhere). */
  markOf(a: Assessment | null): VerificationMark | 'replicate' | null {
    return a ? (a.judgement.kind === 'final' ? a.judgement.mark : 'replicate') : null;
  }

  /**
   * The store took the result (`assignment`): the verdict is applied, credits kept, and a result
   * kept for a replica waits for the referee (at once if the results disagree, V5). Returns the
   * volunteers the verdict caught, for `backtrack` once the result's own events are out.
   */
  commit(a: Assessment | null, assignment: AssignmentRecord, now: number): string[] {
    if (a) this.verifier?.commit(a);
    this.deps.credits?.resultAccepted(assignment, a?.judgement ?? null, now);
    if (a?.judgement.kind === 'replicate') {
      // Kept, not final: the task runs again elsewhere (rule V3). Results that disagree go to the
      // referee at once (V5), not after the replica wait; so does a task no one else could take.
      if (this.verifier?.isDisputed(assignment.taskId) || !this.replicaMayCome(assignment.taskId)) {
        this.clearReferee(assignment.taskId);
        this.awaitReferee(assignment.taskId, 0);
      } else this.awaitReferee(assignment.taskId);
    } else {
      this.clearReferee(assignment.taskId);
      this.finished(assignment.taskId);
    }
    return a?.judgement.caught ?? [];
  }

  /** A volunteer sent something wrong or impossible (rule V6); true when newly quarantined (then backtracked). */
  caught(volunteerId: string, verdict: 'impossible' | 'wrong', now: number): boolean {
    if (!this.verifier?.caught(volunteerId, verdict, now)) return false;
    this.backtrack([volunteerId]);
    return true;
  }

  /** A canary answered right (rule V12): a verified result. */
  canaryPassed(volunteerId: string, now: number): void {
    this.verifier?.canaryPassed(volunteerId, now);
  }

  /** The task ended otherwise (failed, cancelled): results waiting for it are dropped. */
  forget(taskId: string): void {
    this.verifier?.forget(taskId);
    this.clearReferee(taskId);
    this.finished(taskId);
  }

  /** The task is settled or ended: its losses and any takeover go (rule T13). */
  private finished(taskId: string): void {
    this.losses?.forget(taskId);
    this.takeover?.forget(taskId);
  }

  /** Whether results are verified and this volunteer is not trusted (its losses count against it, T13). */
  untrusted(volunteerId: string): boolean {
    return this.verifier !== undefined && this.verifier.standing(volunteerId) !== 'trusted';
  }

  /** A volunteer connected from `address`: its network, for the loss rule (T13). */
  seen(volunteerId: string, address: string): void {
    this.losses?.seen(volunteerId, address);
  }

  /** Whether a task is kept from this volunteer because its network lost it (rule T13). */
  keepsFrom(taskId: string, volunteerId: string, address: string): boolean {
    return this.losses?.keepsFrom(taskId, volunteerId, address) ?? false;
  }

  /**
   * A volunteer lost this task (rule T13: it left, never acked, let the lease lapse, refused the
   * offer, or reported a failure that does not count). It counts against the volunteer's network,
   * which is not offered the task again, never against the task: the referee runs it once
   * `refereeAfter` networks lost it, or at once when no one else connected may take it.
   */
  lost(task: TaskRecord, volunteerId: string): void {
    const { losses, verifier } = this;
    if (!losses || !verifier || !unfinished(task) || this.stopped) return;
    const { referee } = losses.lose(task.id, volunteerId);
    const someoneElse = () =>
      this.deps.actions.mayAnyoneTake(
        task.id,
        (id, address) => verifier.standing(id) !== 'quarantined' && !losses.keepsFrom(task.id, id, address),
      );
    if (!referee && someoneElse()) return;
    this.takeOver(task);
  }

  /** The referee runs a task lost too often, or that no one else may take (rule T13). */
  private takeOver(task: TaskRecord): void {
    const { losses, verifier } = this;
    if (!losses || !verifier) return;
    this.deps.log.info(
      { taskId: task.id, networks: losses.losses(task.id) },
      'referee takes over a lost task',
    );
    if (verifier.isPending(task.id)) {
      // Results wait for a replica: the referee settles them now (rule V5).
      this.clearReferee(task.id);
      this.awaitReferee(task.id, 0);
    } else this.takeover?.request(task.id);
  }

  /** A task fails for its own reason (rule T13): the referee that took it over cannot decode or run it. */
  private failTaken(taskId: string, code: ErrorCode, message: string): void {
    const { store, clock, actions } = this.deps;
    let failed: ReturnType<TaskStore['failTask']>;
    try {
      failed = store.failTask(taskId, { code, message: message.slice(0, 500) }, clock.now());
    } catch (err) {
      this.deps.fault('scheduler.takeover', err, { taskId });
      return;
    }
    this.deps.log.warn({ taskId, code }, 'the referee could not run a task lost too often; it fails');
    this.forget(taskId);
    if (!failed) return;
    for (const lease of failed.leases) actions.cancelHeld(lease, code);
    actions.taskChanged(failed.task);
    actions.pump();
  }

  /** The referee ran a task it took over (rule T13): its result settles the task. */
  private settleTakenOver(taskId: string, outcome: RefereeOutcome): void {
    const task = this.deps.store.getTask(taskId);
    if (!task || !unfinished(task) || !this.verifier) return;
    if (outcome.kind === 'undecodable') {
      this.failTaken(taskId, 'undecodable', `the server's referee could not decode it: ${outcome.message}`);
      return;
    }
    const now = this.deps.clock.now();
    const assessed = this.verifier.settleWith(taskId, outcome.detections, now, true, outcome.inferenceMs);
    if (assessed) this.applyReferee(taskId, assessed);
  }

  /** Rule V10: a false `undecodable` report is a wrong result (quarantine and backtracking). */
  checkUndecodable(volunteerId: string, task: TaskRecord): void {
    const verifier = this.verifier;
    if (!verifier) return;
    const check = async () => {
      const load = () => this.deps.image(task.imageSha256);
      if (await verifier.checkUndecodable(volunteerId, load, () => this.deps.clock.now())) {
        this.deps.log.warn(
          { volunteerId, taskId: task.id },
          'false undecodable report; volunteer quarantined',
        );
        this.backtrack([volunteerId]);
      }
    };
    this.deps.errors.watch('scheduler.undecodable', check(), { volunteerId, taskId: task.id });
  }

  /**
   * Backtracking (rule V7): every result these newly quarantined volunteers published — trusted,
   * replicated, spot-checked or refereed — is revoked and its task queued again to be verified
   * anew; requesters see the job running again. Their results still waiting for a verdict count
   * for nothing, and they lose every credit, granted or pending (C2): a result they only agreed
   * with stays published on its publisher's word. Never throws: it runs after a result was
   * stored, whose ack and events must not depend on it.
   */
  backtrack(volunteerIds: readonly string[]): void {
    const { store, credits, clock, actions } = this.deps;
    for (const id of volunteerIds) {
      this.verifier?.disown(id);
      try {
        const revoked = store.publishedResultsOf(id);
        const reopened = store.reopen(revoked);
        credits?.caught(id, revoked, clock.now());
        if (reopened.length > 0)
          this.deps.log.warn({ volunteerId: id, reopened: reopened.length }, 'backtracked');
        for (const t of reopened) actions.taskChanged(t);
      } catch (err) {
        this.deps.fault('scheduler.backtrack', err, { volunteerId: id });
      }
      // Results other gateways accepted (Redis): found and reopened in the shared store.
      this.deps.errors.watch('scheduler.backtrack', this.backtrackElsewhere(id), { volunteerId: id });
    }
    actions.pump();
  }

  private async backtrackElsewhere(volunteerId: string): Promise<void> {
    const { store, credits, clock, actions } = this.deps;
    try {
      const elsewhere = await store.reopenElsewhere(volunteerId);
      if (elsewhere.revoked.length === 0 || this.stopped) return;
      credits?.backtracked(volunteerId, elsewhere.revoked, clock.now());
      this.deps.log.warn({ volunteerId, reopened: elsewhere.reopened.length }, 'backtracked elsewhere');
      for (const t of elsewhere.reopened) actions.taskChanged(t);
    } catch (err) {
      this.deps.fault('scheduler.backtrack', err, { volunteerId });
    }
  }

  /**
   * Whether a replica that could settle the task may still come (rule V5): someone connected (or,
   * with several gateways, possibly elsewhere) may take it and its result would count. Otherwise
   * waiting for one only delays the referee.
   */
  private replicaMayCome(taskId: string): boolean {
    const verifier = this.verifier;
    if (!verifier) return true;
    return this.deps.actions.mayAnyoneTake(
      taskId,
      (id, address) => verifier.couldSettle(taskId, id, address) && !this.keepsFrom(taskId, id, address),
    );
  }

  /** Bounded wait (rule V5): if no independent replica settles the task in time, the referee does. */
  private awaitReferee(taskId: string, delayMs = this.refereeAfterMs): void {
    if (!this.verifier?.referee || this.refereeTimers.has(taskId) || this.stopped) return;
    const timer = setTimeout(() => {
      this.refereeTimers.delete(taskId);
      this.deps.errors.watch('scheduler.referee', this.runReferee(taskId), { taskId });
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
    const { store, clock, actions } = this.deps;
    const verifier = this.verifier;
    const task = store.getTask(taskId);
    if (!task || task.status === 'done' || task.status === 'failed' || !verifier) {
      verifier?.forget(taskId);
      return;
    }
    let assessed: Awaited<ReturnType<Verifier['settleByReferee']>>;
    try {
      const image = await this.deps.image(task.imageSha256);
      assessed = await verifier.settleByReferee(taskId, image, () => clock.now());
    } catch (err) {
      this.deps.errors.report('scheduler.referee', err, { taskId });
      assessed = 'failed';
    }
    if (assessed === null) return; // settled already
    if (assessed === 'failed' || assessed === 'over_budget') {
      // Tried again with backoff (rule V9); a third volunteer may break the tie meanwhile.
      const delay = verifier.retryAfter(taskId, assessed);
      if (assessed === 'failed') this.deps.log.warn({ taskId, retryInMs: delay }, 'referee run failed');
      if (delay !== null && verifier.isPending(taskId)) this.awaitReferee(taskId, delay);
      // Given up: its results no longer count toward their senders' caps, who may take more now.
      else if (delay === null) actions.pump();
      return;
    }
    this.applyReferee(taskId, assessed);
  }

  /** A referee's assessment settles the task: stored final, applied, announced. */
  private applyReferee(taskId: string, assessed: Assessment): void {
    const { store, clock, actions } = this.deps;
    const verifier = this.verifier!;
    const judgement = assessed.judgement;
    if (judgement.kind !== 'final') return;
    const now = clock.now();
    const done = store.finalize(
      taskId,
      judgement.detections,
      judgement.resultAssignmentId,
      judgement.mark,
      now,
      {
        refereeMs: judgement.resultAssignmentId === null ? (assessed.refereeMs ?? null) : null,
        agreeing: judgement.settled.agreeing.map((r) => r.assignmentId),
        rejected: judgement.settled.rejected,
      },
    );
    verifier.commit(assessed);
    this.finished(taskId);
    this.deps.credits?.settled(judgement, now);
    if (done) {
      for (const other of done.superseded) actions.cancelHeld(other, 'task_completed');
      const by = judgement.resultAssignmentId ? store.getAssignment(judgement.resultAssignmentId) : null;
      actions.resultStored(done.task, by);
      actions.taskChanged(done.task);
    }
    if (judgement.caught.length) this.backtrack(judgement.caught);
    actions.pump();
  }

  stop(): void {
    this.stopped = true;
    this.takeover?.stop();
    for (const t of this.refereeTimers.values()) clearTimeout(t);
    this.refereeTimers.clear();
  }
}
