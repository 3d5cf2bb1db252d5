import { describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { NEW_REPUTATION, type Reputation } from './reputation';
import type { Referee, RefereeOutcome } from './referee';
import type { ReputationStore } from './reputation-store';
import { Verifier } from './verifier';

const bus: Detection = { label: 'bus', score: 0.9, box: [10, 10, 200, 120] };
const person: Detection = { label: 'person', score: 0.8, box: [50, 40, 80, 150] };
const truth = [bus, person];
const lie: Detection[] = [{ label: 'dog', score: 0.7, box: [300, 300, 400, 400] }];

class MemoryReputations implements ReputationStore {
  readonly map = new Map<string, Reputation>();
  get(id: string): Reputation {
    return this.map.get(id) ?? NEW_REPUTATION;
  }
  put(id: string, r: Reputation): void {
    this.map.set(id, r);
  }
  async warm(): Promise<void> {}
  async flush(): Promise<void> {}
}

const TRUSTED: Reputation = {
  streak: 50,
  verified: 50,
  invalid: 0,
  canaries: 0,
  trustedAt: 1,
  quarantinedAt: null,
};

/** A verifier whose random draws are scripted: 0 picks a trusted result for a spot check, 0.99 does not. */
function setup(draws: number[]) {
  const reps = new MemoryReputations();
  for (const id of ['turncoat', 'honest-a', 'honest-b']) reps.put(id, TRUSTED);
  const verifier = new Verifier(
    reps,
    null,
    { distinctNetworks: false, trust: { trustStreak: 10, spotCheckFloor: 0.05 } },
    () => draws.shift() ?? 0.99,
  );
  let n = 0;
  const result = (taskId: string, volunteerId: string, detections: Detection[]) =>
    verifier.judge(
      { taskId, assignmentId: `a${++n}`, volunteerId, address: '127.0.0.1', detections },
      1000 + n,
    );
  return { reps, verifier, result };
}

describe('verifier', () => {
  it("a trusted volunteer's result for a spot-checked task is its replica, not final at once: a turncoat's lie is judged", () => {
    const { reps, verifier, result } = setup([0]);
    // The turncoat's lie is picked for a spot check: it waits for a replica.
    expect(result('t1', 'turncoat', lie).kind).toBe('replicate');
    expect(verifier.isDisputed('t1')).toBe(false); // one result waiting is not a dispute
    // A trusted honest volunteer runs the replica, not picked for a spot check itself (0.99).
    // Before the fix this was final at once and the waiting lie was dropped unjudged.
    const second = result('t1', 'honest-a', truth);
    expect(second.kind).toBe('replicate');
    expect(verifier.isPending('t1')).toBe(true);
    // Two results that disagree: the scheduler asks the referee at once (V5).
    expect(verifier.isDisputed('t1')).toBe(true);
    // A third result settles the tie: the turncoat is caught.
    const third = result('t1', 'honest-b', truth);
    expect(third.kind).toBe('final');
    if (third.kind !== 'final') return;
    expect(third.caught).toEqual(['turncoat']);
    expect(third.detections).toEqual(truth);
    expect(reps.get('turncoat').quarantinedAt).not.toBeNull();
    expect(third.settled.rejected.map((r) => r.volunteerId)).toEqual(['turncoat']);
    expect(verifier.isPending('t1')).toBe(false);
  });

  // Issue 17 B: spot checks hold trusted results to the same comparison as any other, every shown
  // detection (>= 0.25) included. A turncoat that tampers within the old rule (uncertain
  // detections hidden, a confident box nudged, sub-0.5 boxes added) is caught on its spot check.
  it('a spot check catches a trusted turncoat tampering within the old rule, and publishes what the honest pair backs', () => {
    const uncertain: Detection = { label: 'person', score: 0.4, box: [100, 40, 130, 150] };
    const full = [...truth, uncertain];
    const tampered: Detection[] = [
      bus,
      { ...person, box: [56, 40, 86, 150] }, // IoU 0.67: passed the old rule (0.5)
      { label: 'cup', score: 0.45, box: [0, 0, 20, 20] },
    ];
    const { reps, result } = setup([0]);
    expect(result('t1', 'turncoat', tampered).kind).toBe('replicate');
    expect(result('t1', 'honest-a', full).kind).toBe('replicate'); // before: final, the tampered one published
    const third = result('t1', 'honest-b', full);
    expect(third.kind).toBe('final');
    if (third.kind !== 'final') return;
    expect(third.caught).toEqual(['turncoat']);
    expect(third.detections).toEqual(full);
    expect(reps.get('turncoat').quarantinedAt).not.toBeNull();
  });

  it("a trusted result final at once publishes only its shown detections (>= 0.25), not the floor's", () => {
    const { result } = setup([]);
    const faint: Detection = { label: 'cup', score: 0.18, box: [0, 0, 20, 20] };
    const final = result('t1', 'honest-a', [...truth, faint]);
    expect(final.kind === 'final' && final.detections).toEqual(truth);
  });

  it('a spot-checked result and an agreeing trusted replica settle the task as spot-checked, both verified', () => {
    const { reps, result } = setup([0]);
    expect(result('t1', 'turncoat', truth).kind).toBe('replicate');
    const second = result('t1', 'honest-a', truth);
    expect(second.kind).toBe('final');
    if (second.kind !== 'final') return;
    // Named: the result that completed the pair; the pair's other result is recorded too (V7a).
    expect(second.mark).toMatchObject({ verification: 'spot-checked', agreeing: 2 });
    expect(second.resultAssignmentId).toBe('a2');
    expect(second.mark.pairAssignmentId).toBe('a1');
    expect(second.caught).toEqual([]);
    expect(second.settled.agreeing.map((r) => r.volunteerId).sort()).toEqual(['honest-a', 'turncoat']);
    expect(reps.get('turncoat').streak).toBe(51);
  });

  it("a caught volunteer's result still waiting is disowned: an agreeing replica does not publish it (issue 17 C)", () => {
    const { verifier, result } = setup([0, 0.99, 0.99, 0.99]);
    // The turncoat's (tampered, agreeing) result is picked for a spot check: it waits.
    expect(result('t1', 'turncoat', truth).kind).toBe('replicate');
    // Caught elsewhere meanwhile (a canary, another task's verdict): backtracking disowns it.
    verifier.caught('turncoat', 'wrong', 2000);
    verifier.disown('turncoat');
    expect(verifier.isPending('t1')).toBe(true);
    // An honest replica agrees with it, but it counts for nothing now: still waiting, for an
    // independent result (or the referee), never published as the turncoat's.
    expect(result('t1', 'honest-a', truth).kind).toBe('replicate');
    const settled = result('t1', 'honest-b', truth);
    expect(settled.kind).toBe('final');
    if (settled.kind !== 'final') return;
    expect(settled.resultAssignmentId).not.toBe('a1');
    expect(settled.settled.agreeing.map((r) => r.volunteerId).sort()).toEqual(['honest-a', 'honest-b']);
    expect(settled.settled.rejected).toEqual([
      { volunteerId: 'turncoat', assignmentId: 'a1', quarantined: true },
    ]);
  });

  it('a trusted result for a task with nothing waiting is final at once', () => {
    const { result } = setup([]);
    const j = result('t1', 'honest-a', truth);
    expect(j.kind).toBe('final');
    if (j.kind === 'final') expect(j.mark).toEqual({ verification: 'trusted', agreeing: 1 });
  });

  it("a canary answered right counts in the volunteer's reputation (what canaries cost it), quarantined too", () => {
    const { reps, verifier } = setup([]);
    verifier.canaryPassed('honest-a', 2000);
    verifier.canaryPassed('honest-a', 2001);
    expect(reps.get('honest-a')).toMatchObject({ canaries: 2, verified: 52, streak: 52 });
    verifier.caught('turncoat', 'wrong', 2002);
    verifier.canaryPassed('turncoat', 2003);
    expect(reps.get('turncoat')).toMatchObject({ canaries: 1, verified: 50 });
  });
});

describe('verifier: undecodable claims (V10)', () => {
  it('a claim refused for the referee budget is checked again later, and counts toward the cap until then', async () => {
    const reps = new MemoryReputations();
    let calls = 0;
    // Over budget twice, then the referee decodes the image: the claim was false.
    const referee = {
      enabled: true,
      run(): Promise<RefereeOutcome> | null {
        calls++;
        return calls <= 2 ? null : Promise.resolve({ kind: 'detections', detections: truth });
      },
    } as unknown as Referee;
    const verifier = new Verifier(reps, referee, {
      distinctNetworks: false,
      trust: { trustStreak: 10, spotCheckFloor: 0.05 },
      maxUnverified: 3,
    });
    expect(verifier.mayTakeMore('claimant', 2)).toBe(true);
    const checking = verifier.checkUndecodable(
      'claimant',
      async () => new Uint8Array([1]),
      () => 5000,
    );
    // While the claim waits for a referee run, it counts as unverified work.
    expect(verifier.mayTakeMore('claimant', 2)).toBe(false);
    expect(await checking).toBe(true);
    expect(calls).toBe(3);
    expect(reps.get('claimant').quarantinedAt).toBe(5000);
    expect(verifier.standing('claimant')).toBe('quarantined');
  });

  it('a claim the referee confirms blames nobody', async () => {
    const reps = new MemoryReputations();
    const referee = {
      enabled: true,
      run: (): Promise<RefereeOutcome> => Promise.resolve({ kind: 'undecodable', message: 'bad bytes' }),
    } as unknown as Referee;
    const verifier = new Verifier(reps, referee, {
      distinctNetworks: false,
      trust: { trustStreak: 10, spotCheckFloor: 0.05 },
    });
    expect(
      await verifier.checkUndecodable(
        'honest',
        async () => new Uint8Array([1]),
        () => 5000,
      ),
    ).toBe(false);
    expect(verifier.standing('honest')).toBe('probation');
    expect(verifier.mayTakeMore('honest', 2)).toBe(true);
  });

  it('says who could settle a waiting task: not its sender, not a quarantined one, not its network when distinct networks are required (V5)', () => {
    const reps = new MemoryReputations();
    reps.put('jailed', { ...NEW_REPUTATION, quarantinedAt: 1 });
    const verifier = new Verifier(reps, null, {
      distinctNetworks: true,
      trust: { trustStreak: 10, spotCheckFloor: 0.05 },
    });
    expect(verifier.couldSettle('t1', 'other', '198.51.100.7')).toBe(false); // nothing waits
    verifier.judge(
      { taskId: 't1', assignmentId: 'a1', volunteerId: 'first', address: '203.0.113.5', detections: truth },
      1000,
    );
    expect(verifier.isPending('t1')).toBe(true);
    expect(verifier.couldSettle('t1', 'first', '198.51.100.7')).toBe(false);
    expect(verifier.couldSettle('t1', 'neighbour', '203.0.113.9')).toBe(false); // same /24
    expect(verifier.couldSettle('t1', 'jailed', '198.51.100.7')).toBe(false);
    expect(verifier.couldSettle('t1', 'other', '198.51.100.7')).toBe(true);
  });
});
