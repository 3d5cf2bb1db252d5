import type { Detection } from '@tabgrid/protocol';
import type { VerificationMark } from '../scheduling/types';
import { DEFAULT_AGREEMENT, type AgreementRule } from './agreement';
import { networkOf } from './network';
import { REFEREE, settle, treatment, type Candidate, type Treatment } from './policy';
import type { Referee } from './referee';
import { standing, updateReputation, type Standing, type TrustPolicy, type Verdict } from './reputation';
import type { ReputationStore } from './reputation-store';

export interface VerifierConfig {
  distinctNetworks: boolean;
  trust: TrustPolicy;
  rule?: AgreementRule;
  /**
   * Tasks a volunteer not trusted may hold plus results of its awaiting a verdict, before it gets
   * no new offers (0 = no cap). Without it a greedy liar answers all it holds, and what it gets as
   * each answer frees a slot, before the first verdict. @defaultValue 3 (DEFAULT_MAX_UNVERIFIED)
   */
  maxUnverified?: number;
}

/** Issue 7's goal: a constant liar is quarantined within its first 3 results. */
export const DEFAULT_MAX_UNVERIFIED = 3;

/** What a result means (PROTOCOL.md rules V3–V6). */
export type Judgement =
  /** The task is done with `detections`; `caught` were just quarantined (backtrack their work). */
  | {
      kind: 'final';
      detections: Detection[];
      mark: VerificationMark;
      /** The volunteer result published (null: the referee's). */
      resultAssignmentId: string | null;
      caught: string[];
    }
  /** Keep the result, run the task again on an independent volunteer (or the referee). */
  | { kind: 'replicate'; caught: string[] };

interface Pending extends Candidate {
  assignmentId: string;
  treatment: Treatment;
}

/**
 * The verification room's entry point: the scheduler asks it what a result means and applies
 * the answer; it never reads the reputation table itself. Pending results are kept in memory
 * (after a restart their tasks simply run again).
 */
export class Verifier {
  private readonly pending = new Map<string, Pending[]>();
  /** Per volunteer, how many of its results are in `pending`. */
  private readonly unverified = new Map<string, number>();
  private readonly rule: AgreementRule;

  constructor(
    private readonly reputations: ReputationStore,
    readonly referee: Referee | null,
    private readonly config: VerifierConfig,
    private readonly random: () => number = Math.random,
  ) {
    this.rule = config.rule ?? DEFAULT_AGREEMENT;
  }

  standing(volunteerId: string): Standing {
    return standing(this.reputations.get(volunteerId));
  }

  /**
   * Whether a volunteer holding `held` tasks may get another offer: trusted, or its held tasks
   * and results awaiting a verdict are under the cap (`maxUnverified`).
   */
  mayTakeMore(volunteerId: string, held: number): boolean {
    const max = this.config.maxUnverified ?? DEFAULT_MAX_UNVERIFIED;
    if (max <= 0 || held + (this.unverified.get(volunteerId) ?? 0) < max) return true;
    return this.standing(volunteerId) === 'trusted';
  }

  /** A fresh, plausible result from a volunteer. */
  judge(
    r: {
      taskId: string;
      assignmentId: string;
      volunteerId: string;
      address: string;
      detections: Detection[];
    },
    now: number,
  ): Judgement {
    const rep = this.reputations.get(r.volunteerId);
    const how = treatment(rep, this.random(), this.config.trust);
    if (how === 'final') {
      this.drop(r.taskId);
      return {
        kind: 'final',
        detections: r.detections,
        mark: { verification: 'trusted', agreeing: 1 },
        resultAssignmentId: r.assignmentId,
        caught: [],
      };
    }
    const list = this.pending.get(r.taskId) ?? [];
    if (!list.some((c) => c.assignmentId === r.assignmentId)) {
      list.push({
        by: r.volunteerId,
        network: networkOf(r.address),
        quarantined: standing(rep) === 'quarantined',
        detections: r.detections,
        assignmentId: r.assignmentId,
        treatment: how,
      });
      this.unverified.set(r.volunteerId, (this.unverified.get(r.volunteerId) ?? 0) + 1);
    }
    this.pending.set(r.taskId, list);
    return this.settle(r.taskId, list, now);
  }

  /** Whether a task has results waiting for a replica. */
  isPending(taskId: string): boolean {
    return (this.pending.get(taskId)?.length ?? 0) > 0;
  }

  /**
   * The referee's own result settles a waiting task (rule V5). Null when the task is no longer
   * waiting or the referee is over budget; `undecodable` when the server cannot decode it either.
   */
  async settleByReferee(
    taskId: string,
    image: Uint8Array,
    now: () => number,
  ): Promise<Judgement | 'undecodable' | null> {
    if (!this.isPending(taskId)) return null;
    const run = this.referee?.run(image);
    if (!run) return null;
    const outcome = await run;
    const list = this.pending.get(taskId);
    if (!list) return null; // settled meanwhile
    if (outcome.kind === 'undecodable') return 'undecodable';
    const withReferee: Pending[] = [
      ...list,
      {
        by: REFEREE,
        network: '',
        quarantined: false,
        detections: outcome.detections,
        assignmentId: '',
        treatment: 'replicate',
      },
    ];
    return this.settle(taskId, withReferee, now());
  }

  /** A volunteer sent something the model cannot produce: quarantined at once (rule V6). */
  caught(volunteerId: string, verdict: Extract<Verdict, 'impossible' | 'wrong'>, now: number): boolean {
    return this.record(volunteerId, verdict, now);
  }

  /** The task ended otherwise (cancelled, failed): drop what waited for it. */
  forget(taskId: string): void {
    this.drop(taskId);
  }

  private drop(taskId: string): void {
    for (const c of this.pending.get(taskId) ?? []) {
      const n = (this.unverified.get(c.by) ?? 1) - 1;
      if (n > 0) this.unverified.set(c.by, n);
      else this.unverified.delete(c.by);
    }
    this.pending.delete(taskId);
  }

  private settle(taskId: string, list: Pending[], now: number): Judgement {
    const s = settle(list, this.config.distinctNetworks, this.rule);
    if (s.kind === 'pending') return { kind: 'replicate', caught: [] };
    this.drop(taskId);
    const caught: string[] = [];
    for (const c of s.agreeing) if (c.by !== REFEREE) this.record(c.by, 'agreed', now);
    for (const c of s.wrong) if (c.by !== REFEREE && this.record(c.by, 'wrong', now)) caught.push(c.by);
    const winner = s.winner as Pending;
    const spot = s.agreeing.some((c) => (c as Pending).treatment === 'spot-check');
    return {
      kind: 'final',
      detections: winner.detections,
      mark: {
        verification: s.refereed ? 'refereed' : spot ? 'spot-checked' : 'replicated',
        agreeing: s.agreeing.length,
      },
      resultAssignmentId: winner.by === REFEREE ? null : winner.assignmentId,
      caught,
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
