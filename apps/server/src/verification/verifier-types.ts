import type { Detection } from '@tabgrid/protocol';
import type { VerificationMark } from '../store/records';
import type { AgreementRule } from './agreement';
import type { Candidate, Treatment } from './policy';
import type { RefereeRetryPolicy } from './referee-retry';
import type { Reputation, TrustPolicy } from './reputation';
import type { VerificationMetrics } from './verification-metrics';

/** The verifier's configuration and the shapes of its answers (the `Verifier` is in verifier.ts). */
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
  /** Referee retries (rule V9). @defaultValue DEFAULT_REFEREE_RETRY */
  retry?: RefereeRetryPolicy;
  metrics?: VerificationMetrics;
}

/** One volunteer result, named for the credit ledger (apps/server/src/ledger). */
export interface ResultRef {
  volunteerId: string;
  assignmentId: string;
}

/** Whose results a final judgement verified, and whose it rejected (`quarantined`: counted for nothing). */
export interface SettledResults {
  agreeing: ResultRef[];
  rejected: (ResultRef & { quarantined: boolean })[];
}

/** Issue 7's goal: a constant liar is quarantined within its first 3 results. */
export const DEFAULT_MAX_UNVERIFIED = 3;

/** Referee runs tried for one `undecodable` claim refused for the budget (rule V10), ~20 s in all. */
export const UNDECODABLE_CHECK_TRIES = 8;

/** What a result means (PROTOCOL.md rules V3–V6). */
export type Judgement =
  /**
   * The task is done with `detections`, what is published (rule V8: the referee's when it ran,
   * else what both results of the agreeing pair back, else a trusted result's own; shown ones
   * only, >= 0.25); `caught` were just quarantined (backtrack their work).
   */
  | {
      kind: 'final';
      detections: Detection[];
      mark: VerificationMark;
      /** The volunteer result published (null: the referee's). */
      resultAssignmentId: string | null;
      caught: string[];
      /** For the credit ledger: the volunteer results verified and rejected by this settlement. */
      settled: SettledResults;
    }
  /** Keep the result, run the task again on an independent volunteer (or the referee). */
  | { kind: 'replicate'; caught: string[] };

export interface Pending extends Candidate {
  assignmentId: string;
  treatment: Treatment;
  /** Counts toward its sender's cap of unverified work (until settled, or the referee gave up). */
  counted: boolean;
}

/** A fresh result to judge. */
export interface ResultToJudge {
  taskId: string;
  assignmentId: string;
  volunteerId: string;
  address: string;
  detections: Detection[];
}

/**
 * What a result means, decided but not applied (`Verifier.commit` applies it): the task's
 * waiting results afterwards (null: none wait), whose result was added to them, and the
 * reputations the verdict changes.
 */
export interface Assessment {
  judgement: Judgement;
  taskId: string;
  /** The result assessed (absent for the referee's settlement). */
  assignmentId?: string;
  pending: Pending[] | null;
  added: string | null;
  puts: [string, Reputation][];
  /** The referee's inference time (ms) when its run settled the task (stored with the task, V8). */
  refereeMs?: number | null;
}
