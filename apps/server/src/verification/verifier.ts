import { setTimeout as delay } from 'node:timers/promises';
import type { Detection } from '@tabgrid/protocol';
import { DEFAULT_AGREEMENT, shown, type AgreementRule } from './agreement';
import { networkOf } from './network';
import { independent, REFEREE, settle, treatment, type Candidate, type Treatment } from './policy';
import type { Referee, RefereeOutcome } from './referee';
import { DEFAULT_REFEREE_RETRY, RefereeRetries, type RefereeMiss } from './referee-retry';
import { standing, updateReputation, type Reputation, type Standing, type Verdict } from './reputation';
import type { ReputationStore } from './reputation-store';
import {
  DEFAULT_MAX_UNVERIFIED,
  UNDECODABLE_CHECK_TRIES,
  type Assessment,
  type Judgement,
  type Pending,
  type ResultRef,
  type ResultToJudge,
  type SettledResults,
  type VerifierConfig,
} from './verifier-types';

export * from './verifier-types';

/** Offers whose treatment was planned at dispatch (`planOffer`) kept at most (oldest dropped). */
const PLANS_KEPT = 100_000;

/**
 * The verification room's entry point: the scheduler asks it what a result means and applies
 * the answer; it never reads the reputation table itself. Pending results are kept in memory
 * (after a restart their tasks simply run again).
 */
export class Verifier {
  private readonly pending = new Map<string, Pending[]>();
  /** Per volunteer, how many of its results are in `pending`. */
  private readonly unverified = new Map<string, number>();
  /** Treatments decided when the offer was made (`planOffer`), by assignment, until its result. */
  private readonly plans = new Map<string, Treatment>();
  private readonly rule: AgreementRule;
  private readonly retries: RefereeRetries;

  constructor(
    private readonly reputations: ReputationStore,
    readonly referee: Referee | null,
    private readonly config: VerifierConfig,
    private readonly random: () => number = Math.random,
  ) {
    this.rule = config.rule ?? DEFAULT_AGREEMENT;
    this.retries = new RefereeRetries(config.retry ?? DEFAULT_REFEREE_RETRY);
  }

  standing(volunteerId: string): Standing {
    return standing(this.reputations.get(volunteerId));
  }

  /**
   * Whether a volunteer holding `held` tasks may get another offer: trusted, or its held tasks
   * and results awaiting a verdict are under the cap (`maxUnverified`). Without a referee the cap
   * is off: only other volunteers' replicas settle a result then, and two new volunteers each
   * capped by results that wait for the other would wait for good.
   */
  mayTakeMore(volunteerId: string, held: number): boolean {
    const max = this.config.maxUnverified ?? DEFAULT_MAX_UNVERIFIED;
    if (max <= 0 || !this.referee?.enabled) return true;
    if (held + (this.unverified.get(volunteerId) ?? 0) < max) return true;
    return this.standing(volunteerId) === 'trusted';
  }

  /**
   * A task not waiting for a replica is offered to this volunteer: whether its result will need an
   * independent replica (rule V3), so that the dispatcher offers that replica at once to another
   * volunteer and the two run at the same time. A volunteer not trusted always needs one; a
   * trusted one's spot check is drawn here, at the offer, and kept for its result (`assess`).
   */
  planOffer(taskId: string, assignmentId: string, volunteerId: string): boolean {
    if (this.isPending(taskId)) return false; // this offer is itself the replica
    const rep = this.reputations.get(volunteerId);
    if (standing(rep) !== 'trusted') return true;
    const how = treatment(rep, this.random(), this.config.trust);
    this.plan(assignmentId, how);
    return how === 'spot-check';
  }

  /**
   * An offer made as another's replica (`planOffer`): its result waits for the other's even from a
   * trusted volunteer, else a trusted replica answering first would settle the task alone and the
   * spot check it was paired for would never happen.
   */
  planReplica(assignmentId: string): void {
    this.plan(assignmentId, 'replicate');
  }

  /**
   * Whether `second` may run the replica of a task just offered to `first`: it would count (not
   * quarantined) and is independent of it (another identity; another network when required).
   */
  mayPair(first: { id: string; address: string }, second: { id: string; address: string }): boolean {
    if (this.standing(second.id) === 'quarantined') return false;
    const candidate = (v: { id: string; address: string }): Candidate => ({
      by: v.id,
      network: networkOf(v.address),
      quarantined: false,
      detections: [],
    });
    return independent(candidate(first), candidate(second), this.config.distinctNetworks);
  }

  private plan(assignmentId: string, how: Treatment): void {
    this.plans.set(assignmentId, how);
    if (this.plans.size > PLANS_KEPT) this.plans.delete(this.plans.keys().next().value!);
  }

  /** A fresh, plausible result from a volunteer: `assess` and `commit` at once. */
  judge(r: ResultToJudge, now: number): Judgement {
    const a = this.assess(r, now);
    this.commit(a);
    return a.judgement;
  }

  /**
   * What a fresh, plausible result means, without changing anything: `commit` the assessment once
   * the store has durably taken the result (a store that throws in between leaves nothing here
   * ahead of it: a resent result is judged again from the same state).
   */
  assess(r: ResultToJudge, now: number): Assessment {
    const rep = this.reputations.get(r.volunteerId);
    // Planned at the offer (`planOffer`, `planReplica`) while still trusted: kept, not drawn again.
    const planned = standing(rep) === 'trusted' ? this.plans.get(r.assignmentId) : undefined;
    let how = planned ?? treatment(rep, this.random(), this.config.trust);
    // A result for a task whose earlier result waits for a verdict is that result's replica, even
    // from a trusted volunteer: taking it as final would drop the waiting result unjudged, and a
    // turncoat's spot-checked lie would go unpunished whenever a trusted volunteer ran the replica.
    if (how === 'final' && this.isPending(r.taskId)) how = 'spot-check';
    if (how === 'final') {
      return {
        taskId: r.taskId,
        assignmentId: r.assignmentId,
        pending: null,
        added: null,
        puts: [],
        judgement: {
          kind: 'final',
          detections: shown(r.detections, this.rule),
          mark: { verification: 'trusted', agreeing: 1 },
          resultAssignmentId: r.assignmentId,
          caught: [],
          settled: { agreeing: [{ volunteerId: r.volunteerId, assignmentId: r.assignmentId }], rejected: [] },
        },
      };
    }
    const list = [...(this.pending.get(r.taskId) ?? [])];
    let added: string | null = null;
    if (!list.some((c) => c.assignmentId === r.assignmentId)) {
      list.push({
        by: r.volunteerId,
        network: networkOf(r.address),
        quarantined: standing(rep) === 'quarantined',
        detections: r.detections,
        assignmentId: r.assignmentId,
        treatment: how,
        counted: true,
      });
      added = r.volunteerId;
    }
    return { ...this.settle(r.taskId, list, now), added, assignmentId: r.assignmentId };
  }

  /** Applies an assessment (`assess`, `settleByReferee`) after the store took what it decided. */
  commit(a: Assessment): void {
    if (a.assignmentId) this.plans.delete(a.assignmentId);
    if (a.pending) {
      this.pending.set(a.taskId, a.pending);
      if (a.added) this.countUnverified(a.added, 1);
    } else {
      this.drop(a.taskId);
    }
    for (const [volunteerId, reputation] of a.puts) this.reputations.put(volunteerId, reputation);
  }

  /** Whether a task has results waiting for a replica. */
  isPending(taskId: string): boolean {
    return (this.pending.get(taskId)?.length ?? 0) > 0;
  }

  /**
   * Whether a result from this volunteer could settle the waiting task with a result already
   * there (rule V4): it is not quarantined, and independent of one counted waiting result
   * (another identity, and another network when distinct networks are required).
   */
  couldSettle(taskId: string, volunteerId: string, address: string): boolean {
    const waiting = this.pending.get(taskId);
    if (!waiting || this.standing(volunteerId) === 'quarantined') return false;
    const peer: Candidate = {
      by: volunteerId,
      network: networkOf(address),
      quarantined: false,
      detections: [],
    };
    return waiting.some((c) => !c.quarantined && independent(c, peer, this.config.distinctNetworks));
  }

  /**
   * Whether a waiting task's results disagree: two or more from volunteers not in quarantine, and
   * still no verdict. The referee should settle it at once (rule V5) rather than after the wait
   * for a replica: one of them lied, and every moment it stays unjudged it may be answering more.
   */
  isDisputed(taskId: string): boolean {
    const counted = (this.pending.get(taskId) ?? []).filter((c) => !c.quarantined);
    return new Set(counted.map((c) => c.by)).size >= 2;
  }

  /**
   * The referee's own result settles a waiting task (rule V5). Null when the task is no longer
   * waiting; a `RefereeMiss` when the referee did not settle it this time (over budget, or the run
   * failed, including an image the server cannot decode again): ask `retryAfter` when to try again.
   */
  async settleByReferee(
    taskId: string,
    image: Uint8Array,
    now: () => number,
  ): Promise<Assessment | RefereeMiss | null> {
    if (!this.isPending(taskId)) return null;
    const run = this.referee?.run(image);
    if (!run) return 'over_budget';
    let outcome: Awaited<typeof run>;
    try {
      outcome = await run;
    } catch {
      return 'failed';
    }
    if (outcome.kind === 'undecodable') return this.isPending(taskId) ? 'failed' : null;
    return this.settleWith(taskId, outcome.detections, now(), false, outcome.inferenceMs);
  }

  /**
   * The referee's own detections settle the task with its waiting results (rule V5), or by
   * themselves (`alone`: a task the referee took over after repeated losses, rule T13; any result
   * that arrived meanwhile is judged against them too). Null when nothing waits and not `alone`.
   */
  settleWith(
    taskId: string,
    detections: Detection[],
    now: number,
    alone = false,
    inferenceMs: number | null = null,
  ): Assessment | null {
    const list = this.pending.get(taskId) ?? (alone ? [] : undefined);
    if (!list) return null; // settled meanwhile
    this.config.metrics?.refereeMiss('settled');
    const withReferee: Pending[] = [
      ...list,
      {
        by: REFEREE,
        network: '',
        quarantined: false,
        detections,
        assignmentId: '',
        treatment: 'replicate',
        counted: false,
      },
    ];
    return { ...this.settle(taskId, withReferee, now), added: null, refereeMs: inferenceMs };
  }

  /**
   * The referee missed a waiting task: the wait (ms) before it tries again, with backoff, or null
   * when it gives up after its failures (rule V9: the task waits for a third volunteer instead).
   */
  retryAfter(taskId: string, miss: RefereeMiss): number | null {
    this.config.metrics?.refereeMiss(miss);
    const delay = this.retries.next(taskId, miss);
    if (delay === null) {
      this.config.metrics?.refereeMiss('gave_up');
      this.uncount(taskId);
    }
    return delay;
  }

  /**
   * A volunteer reported `undecodable` for an image the server decoded at upload (rule V10): the
   * referee decodes it again. If it can, the report was false and counts as a wrong result
   * (quarantine; true when this newly quarantined the volunteer). A run refused for the budget is
   * tried again with backoff (up to UNDECODABLE_CHECK_TRIES times, about 20 s), and the claim
   * counts toward the volunteer's cap of unverified work (V1) until it is checked, so a volunteer
   * on probation cannot make many claims before the first verdict. Without a referee run in the
   * end (none, still over budget, failed) the volunteer gets the benefit of the doubt; the report
   * never fails the task.
   */
  async checkUndecodable(
    volunteerId: string,
    loadImage: () => Promise<Uint8Array>,
    now: () => number,
  ): Promise<boolean> {
    // Counted at once, before any await: the scheduler offers the next task right after the report.
    this.countUnverified(volunteerId, 1);
    let outcome: RefereeOutcome | null = null;
    try {
      const image = await loadImage();
      for (let attempt = 1; ; attempt++) {
        const run = this.referee?.run(image, undefined, 'undecodable');
        if (run) {
          outcome = await run.catch(() => null);
          break;
        }
        if (!this.referee?.enabled || attempt >= UNDECODABLE_CHECK_TRIES) break;
        await delay(Math.min(4000, 250 * 2 ** (attempt - 1)), undefined, { ref: false });
      }
    } finally {
      this.countUnverified(volunteerId, -1);
    }
    const verdict = !outcome ? 'unchecked' : outcome.kind === 'undecodable' ? 'confirmed' : 'false';
    this.config.metrics?.undecodableClaims.inc({ verdict });
    return verdict === 'false' && this.record(volunteerId, 'wrong', now());
  }

  /** A volunteer sent something the model cannot produce: quarantined at once (rule V6). */
  caught(volunteerId: string, verdict: Extract<Verdict, 'impossible' | 'wrong'>, now: number): boolean {
    return this.record(volunteerId, verdict, now);
  }

  /** A canary answered right (rule V12): a verified result, like an agreeing replica. */
  canaryPassed(volunteerId: string, now: number): void {
    this.record(volunteerId, 'agreed', now);
    const r = this.reputations.get(volunteerId);
    this.reputations.put(volunteerId, { ...r, canaries: r.canaries + 1 });
  }

  /**
   * A volunteer was caught (backtracking, rule V7): its results still waiting for a verdict
   * count for nothing from now on, as if it had been quarantined when it sent them. Otherwise a
   * tampered result it sent before the catch could still be settled by an honest replica,
   * published as its own, and granted credit after its credit was revoked.
   */
  disown(volunteerId: string): void {
    for (const [taskId, list] of this.pending) {
      if (!list.some((c) => c.by === volunteerId && !c.quarantined)) continue;
      this.pending.set(
        taskId,
        list.map((c) => (c.by === volunteerId ? { ...c, quarantined: true } : c)),
      );
    }
  }

  /** The task ended otherwise (cancelled, failed): drop what waited for it. */
  forget(taskId: string): void {
    this.drop(taskId);
  }

  private countUnverified(volunteerId: string, delta: number): void {
    const n = (this.unverified.get(volunteerId) ?? 0) + delta;
    if (n > 0) this.unverified.set(volunteerId, n);
    else this.unverified.delete(volunteerId);
  }

  /**
   * The referee gave up on a waiting task (rule V9): its results keep waiting for a third
   * volunteer, but no longer count toward their senders' caps of unverified work (V1). Otherwise
   * three such tasks would stop every offer to a volunteer on probation for good.
   */
  private uncount(taskId: string): void {
    for (const c of this.pending.get(taskId) ?? []) {
      if (!c.counted) continue;
      c.counted = false;
      this.countUnverified(c.by, -1);
    }
  }

  private drop(taskId: string): void {
    for (const c of this.pending.get(taskId) ?? []) if (c.counted) this.countUnverified(c.by, -1);
    this.pending.delete(taskId);
    this.retries.forget(taskId);
  }

  /** Settles a list of results without changing anything: what `commit` should then apply. */
  private settle(taskId: string, list: Pending[], now: number): Omit<Assessment, 'added'> {
    const s = settle(list, this.config.distinctNetworks, this.rule);
    if (s.kind === 'pending')
      return { taskId, pending: list, puts: [], judgement: { kind: 'replicate', caught: [] } };
    const caught: string[] = [];
    const reps = new Map<string, Reputation>();
    const record = (volunteerId: string, verdict: Verdict): boolean => {
      const before = reps.get(volunteerId) ?? this.reputations.get(volunteerId);
      const after = updateReputation(before, verdict, now, this.config.trust);
      reps.set(volunteerId, after);
      return before.quarantinedAt === null && after.quarantinedAt !== null;
    };
    for (const c of s.agreeing) if (c.by !== REFEREE) record(c.by, 'agreed');
    for (const c of s.wrong) if (c.by !== REFEREE && record(c.by, 'wrong')) caught.push(c.by);
    const winner = s.winner as Pending;
    const spot = s.agreeing.some((c) => (c as Pending).treatment === 'spot-check');
    return {
      taskId,
      pending: null,
      puts: [...reps],
      judgement: {
        kind: 'final',
        detections: s.detections,
        mark: {
          verification: s.refereed ? 'refereed' : spot ? 'spot-checked' : 'replicated',
          agreeing: s.agreeing.length,
          // The pair's other result: its share is in the published mean too (rule V7a).
          pairAssignmentId: (s.partner as Pending | null)?.assignmentId ?? null,
        },
        resultAssignmentId: winner.by === REFEREE ? null : winner.assignmentId,
        caught,
        settled: settledResults(list, s.agreeing),
      },
    };
  }

  /** Applies the trust-update rule; true when this verdict newly quarantined the volunteer. */
  private record(volunteerId: string, verdict: Verdict, now: number): boolean {
    const before = this.reputations.get(volunteerId);
    const after = updateReputation(before, verdict, now, this.config.trust);
    this.reputations.put(volunteerId, after);
    return before.quarantinedAt === null && after.quarantinedAt !== null;
  }
}

/** The volunteer results a settlement verified (agreeing, counted) and rejected (every other one). */
function settledResults(list: readonly Pending[], agreeing: readonly Candidate[]): SettledResults {
  const ref = (c: Pending): ResultRef => ({ volunteerId: c.by, assignmentId: c.assignmentId });
  const volunteers = list.filter((c) => c.by !== REFEREE);
  return {
    agreeing: volunteers.filter((c) => agreeing.includes(c)).map(ref),
    rejected: volunteers
      .filter((c) => !agreeing.includes(c))
      .map((c) => ({ ...ref(c), quarantined: c.quarantined })),
  };
}
