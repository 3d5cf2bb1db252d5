/** What the server knows about one volunteer identity's honesty (PROTOCOL.md rules V4–V6). */
export interface Reputation {
  /** Consecutive results verified correct (by an agreeing replica or the referee). */
  streak: number;
  /** Results verified correct in all. */
  verified: number;
  /** Results found wrong in all. */
  invalid: number;
  /**
   * Canaries answered right in all (rule V12; before quarantine also in `verified`): what the
   * canaries cost this volunteer, so that an operator (and the adversarial bench) can tell it.
   */
  canaries: number;
  /** Trusted since (ms), or null while on probation. */
  trustedAt: number | null;
  /** Quarantined since (ms): a shadow ban, its results count for nothing. */
  quarantinedAt: number | null;
}

export const NEW_REPUTATION: Reputation = {
  streak: 0,
  verified: 0,
  invalid: 0,
  canaries: 0,
  trustedAt: null,
  quarantinedAt: null,
};

export interface TrustPolicy {
  /** Verified agreements in a row after which a volunteer is trusted (BOINC: 10). */
  trustStreak: number;
  /** Lowest spot-check fraction for a trusted volunteer: max(1/streak, floor). */
  spotCheckFloor: number;
  /**
   * The trust ramp: a newly trusted volunteer is spot-checked at `rampFraction` until this many
   * more verified agreements extend its streak past `trustStreak` (0 = no ramp: BOINC's policy).
   * It is what catches a turncoat that turns as soon as it is trusted. @defaultValue 0 when
   * absent; DEFAULT_TRUST has 40
   */
  rampChecks?: number;
  /** Spot-check fraction during the trust ramp. @defaultValue 0.5 */
  rampFraction?: number;
}

/** The product's defaults (config.ts): BOINC's streak of 10 and 5 % floor, with the trust ramp. */
export const DEFAULT_TRUST: TrustPolicy = {
  trustStreak: 10,
  spotCheckFloor: 0.05,
  rampChecks: 40,
  rampFraction: 0.5,
};

/** What verification learned about one result of a volunteer. */
export type Verdict =
  /** An independent replica or the referee agreed with it. */
  | 'agreed'
  /** The majority or the referee disagreed with it: the volunteer lied or is broken. */
  | 'wrong'
  /** It could not have come from the model (unknown label, box outside the image). */
  | 'impossible';

export type Standing = 'probation' | 'trusted' | 'quarantined';

export function standing(r: Reputation): Standing {
  if (r.quarantinedAt !== null) return 'quarantined';
  return r.trustedAt !== null ? 'trusted' : 'probation';
}

/**
 * The trust-update rule. Agreement extends the streak and, at `trustStreak`, makes the volunteer
 * trusted; a wrong or impossible result quarantines it at once (the agreement rule is tolerant
 * enough that honest runtimes agree, agreement.test.ts), and quarantine is never lifted.
 */
export function updateReputation(
  r: Reputation,
  verdict: Verdict,
  now: number,
  policy: TrustPolicy = DEFAULT_TRUST,
): Reputation {
  if (r.quarantinedAt !== null) {
    return verdict === 'agreed' ? r : { ...r, invalid: r.invalid + 1 };
  }
  if (verdict === 'agreed') {
    const streak = r.streak + 1;
    const trustedAt = r.trustedAt ?? (streak >= policy.trustStreak ? now : null);
    return { ...r, streak, verified: r.verified + 1, trustedAt };
  }
  return { ...r, streak: 0, invalid: r.invalid + 1, trustedAt: null, quarantinedAt: now };
}
