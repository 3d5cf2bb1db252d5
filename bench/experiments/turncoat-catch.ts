/**
 * How soon the verification policy catches a turncoat, and what it costs honest volunteers: a
 * Monte Carlo run of the server's own policy functions (`treatment`, `updateReputation` from
 * apps/server/src/verification) and its canary rate, with no sockets and no model. Each trial is
 * one volunteer that has just become trusted (streak = the trust streak) and then lies on a
 * fraction of its tasks. A lie is caught when it is spot-checked (the replica or the referee
 * disagrees; since 9deab22 a trusted replica no longer lets it through) or when it answers a
 * canary. An honest volunteer's spot checks and canaries are its extra inferences.
 *
 * It models the policy, not the network: the end-to-end figures are the adversarial suite's
 * (bench/adversarial). It is how the issue-7 goal "a 10 % turncoat within 60 tasks at p95" can be
 * judged at all: the 500-photo bench gives each volunteer ~12 tasks, and one run is one sample.
 *
 *   npx tsx bench/experiments/turncoat-catch.ts [trials=20000] [streak=10] [floorPercent=5] [canaryPercent=2]
 *     [rampChecks=0] [rampPercent=50]
 */
import { treatment } from '../../apps/server/src/verification/policy';
import { updateReputation, type Reputation } from '../../apps/server/src/verification/reputation';

const [TRIALS, STREAK, FLOOR, CANARY, RAMP, RAMP_PERCENT] = [20000, 10, 5, 2, 0, 50].map((d, i) =>
  Number(process.argv[2 + i] ?? d),
) as [number, number, number, number, number, number];
const policy = {
  trustStreak: STREAK,
  spotCheckFloor: FLOOR / 100,
  rampChecks: RAMP,
  rampFraction: RAMP_PERCENT / 100,
};
const LIMIT = 100_000;

function trusted(): Reputation {
  return { streak: STREAK, verified: STREAK, invalid: 0, trustedAt: 1, quarantinedAt: null };
}

/** Tasks (canaries included) a turncoat lying at `lieRate` answers until caught (LIMIT: never). */
function tasksUntilCaught(lieRate: number): number {
  let r = trusted();
  for (let n = 1; n <= LIMIT; n++) {
    const lie = Math.random() < lieRate;
    if (Math.random() < CANARY / 100) {
      if (lie) return n;
      continue; // a right canary answer is an agreement, but it does not touch the streak of spot checks
    }
    if (treatment(r, Math.random(), policy) === 'final') continue;
    if (lie) return n;
    r = updateReputation(r, 'agreed', n, policy);
  }
  return LIMIT;
}

/** Extra inferences per task of an honest volunteer over its first `tasks` tasks after trust. */
function honestOverhead(tasks: number, runs = 2000): number {
  let extra = 0;
  for (let t = 0; t < runs; t++) {
    let r = trusted();
    for (let n = 1; n <= tasks; n++) {
      if (Math.random() < CANARY / 100) {
        extra += 2; // the canary's own answer and the referee run that made it (an upper bound: a canary serves up to 4)
        continue;
      }
      if (treatment(r, Math.random(), policy) === 'final') continue;
      extra += 1; // the replica
      r = updateReputation(r, 'agreed', n, policy);
    }
  }
  return extra / (runs * tasks);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

console.log(
  `policy: trust streak ${STREAK}, spot checks max(1/streak, ${FLOOR} %), ramp ${RAMP} checks at ${RAMP_PERCENT} %, ` +
    `canaries ${CANARY} %; ${TRIALS} trials`,
);
for (const lieRate of [0.5, 0.1, 0.01]) {
  const t = Array.from({ length: TRIALS }, () => tasksUntilCaught(lieRate)).sort((a, b) => a - b);
  const within60 = t.filter((n) => n <= 60).length / t.length;
  console.log(
    `turncoat lying on ${lieRate * 100} %: tasks until caught p50 ${quantile(t, 0.5)}, p95 ${quantile(t, 0.95)}; ` +
      `caught within 60 tasks: ${(within60 * 100).toFixed(1)} %`,
  );
}
for (const tasks of [12, 60, 200, 1000, 3000, 10000]) {
  console.log(
    `honest volunteer, first ${tasks} tasks after trust: ${honestOverhead(tasks, tasks > 1000 ? 200 : 2000).toFixed(3)} extra inferences per task`,
  );
}
