import type { Detection } from '@tabgrid/protocol';
import { agree, consensus, DEFAULT_AGREEMENT, shown, type AgreementRule } from './agreement';
import { DEFAULT_TRUST, standing, type Reputation, type TrustPolicy } from './reputation';

/** How a volunteer's fresh result is treated (PROTOCOL.md rule V3). */
export type Treatment =
  /** Final at once: a trusted volunteer, not picked for a spot check. */
  | 'final'
  /** Final only once an independent replica (or the referee) agrees. */
  | 'replicate'
  /** A trusted volunteer's result picked for a spot check: verified like a probation result. */
  | 'spot-check';

/**
 * Spot-check fraction for a trusted volunteer: BOINC's max(1/streak, floor), and at least the
 * ramp fraction while its streak is within `rampChecks` of the trust streak (the trust ramp).
 */
export function spotCheckFraction(r: Reputation, policy: TrustPolicy = DEFAULT_TRUST): number {
  const boinc = Math.max(1 / Math.max(1, r.streak), policy.spotCheckFloor);
  const inRamp = r.streak < policy.trustStreak + (policy.rampChecks ?? 0);
  return Math.min(1, inRamp ? Math.max(boinc, policy.rampFraction ?? 0.5) : boinc);
}

/** The replication policy. `random` is in [0, 1) (Math.random in production). */
export function treatment(r: Reputation, random: number, policy: TrustPolicy = DEFAULT_TRUST): Treatment {
  if (standing(r) !== 'trusted') return 'replicate';
  return random < spotCheckFraction(r, policy) ? 'spot-check' : 'final';
}

/** One result for a task, waiting to be settled. */
export interface Candidate {
  /** The volunteer id, or `referee` for the server's own run. */
  by: string;
  /** The /24 (IPv4) or /48 (IPv6) it came from ('' for the referee). */
  network: string;
  /** Whether the sender is quarantined (its result counts for nothing). */
  quarantined: boolean;
  detections: Detection[];
}

export const REFEREE = 'referee';

export type Settlement =
  /**
   * These results agree. `detections` is what is published (rule V8): the referee's own shown
   * detections when it ran, else only those both results of the agreeing pair back. `winner` is
   * the result named with it (the referee's when it ran), `partner` the pair's other result (null
   * when the referee ran), `wrong` are the dissenters.
   */
  | {
      kind: 'final';
      winner: Candidate;
      partner: Candidate | null;
      detections: Detection[];
      agreeing: Candidate[];
      wrong: Candidate[];
      refereed: boolean;
    }
  /** Not enough independent agreeing results yet. */
  | { kind: 'pending' };

/** Whether two candidates are independent: distinct identities, and distinct networks when required. */
export function independent(a: Candidate, b: Candidate, distinctNetworks: boolean): boolean {
  if (a.by === b.by) return false;
  if (a.by === REFEREE || b.by === REFEREE) return true;
  return !distinctNetworks || a.network !== b.network;
}

/**
 * Settles a task's candidate results. The referee, when it ran, is the truth: every volunteer
 * result agreeing with it is correct, every other one wrong, and what is published is the
 * referee's own result (a volunteer's agreeing result may still differ within the rule: hidden
 * low-score boxes, nudged ones, which no requester should get as verified). Otherwise the task is
 * final once two independent results from volunteers not in quarantine agree; what is published is
 * what both of that pair back (`consensus`), and results that disagree with the pair are wrong. A
 * quarantined volunteer's result is never counted, but it is judged.
 */
export function settle(
  candidates: readonly Candidate[],
  distinctNetworks: boolean,
  rule: AgreementRule = DEFAULT_AGREEMENT,
): Settlement {
  const referee = candidates.find((c) => c.by === REFEREE);
  if (referee) {
    const others = candidates.filter((c) => c !== referee);
    const agreeing = others.filter((c) => agree(c.detections, referee.detections, rule));
    return {
      kind: 'final',
      winner: referee,
      partner: null,
      detections: shown(referee.detections, rule),
      agreeing: [referee, ...agreeing.filter((c) => !c.quarantined)],
      wrong: others.filter((c) => !agreeing.includes(c)),
      refereed: true,
    };
  }
  const counted = candidates.filter((c) => !c.quarantined);
  for (let i = 0; i < counted.length; i++) {
    for (let j = i + 1; j < counted.length; j++) {
      const a = counted[i]!;
      const b = counted[j]!;
      if (!independent(a, b, distinctNetworks) || !agree(a.detections, b.detections, rule)) continue;
      const agreeing = counted.filter((c) => c === a || agree(c.detections, a.detections, rule));
      return {
        kind: 'final',
        winner: b,
        partner: a,
        detections: consensus(a.detections, b.detections, rule),
        agreeing,
        wrong: candidates.filter((c) => !agreeing.includes(c)),
        refereed: false,
      };
    }
  }
  return { kind: 'pending' };
}
