import { describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { REFEREE, settle, spotCheckFraction, treatment, type Candidate } from './policy';
import { DEFAULT_TRUST, NEW_REPUTATION, standing, updateReputation, type Reputation } from './reputation';

const bus: Detection = { label: 'bus', score: 0.9, box: [10, 10, 200, 120] };
const person: Detection = { label: 'person', score: 0.8, box: [50, 40, 80, 150] };
const honest = [bus, person];
const lie: Detection[] = [{ label: 'dog', score: 0.7, box: [300, 300, 400, 400] }];

function cand(by: string, detections: Detection[], network = `net-${by}`, quarantined = false): Candidate {
  return { by, network, detections, quarantined };
}

function agreedTimes(n: number, r: Reputation = NEW_REPUTATION): Reputation {
  for (let i = 0; i < n; i++) r = updateReputation(r, 'agreed', 1000 + i);
  return r;
}

describe('trust-update rule', () => {
  it('trusts after a streak of 10 verified agreements, not before', () => {
    expect(standing(agreedTimes(9))).toBe('probation');
    const trusted = agreedTimes(10);
    expect(standing(trusted)).toBe('trusted');
    expect(trusted.trustedAt).toBe(1009);
  });

  it('quarantines at once on a wrong or impossible result, even a trusted volunteer, for good', () => {
    for (const verdict of ['wrong', 'impossible'] as const) {
      const caught = updateReputation(agreedTimes(30), verdict, 5000);
      expect(standing(caught)).toBe('quarantined');
      expect(caught.streak).toBe(0);
      expect(standing(agreedTimes(20, caught))).toBe('quarantined');
    }
  });
});

describe('replication policy', () => {
  it('replicates every result of a volunteer on probation or in quarantine', () => {
    expect(treatment(agreedTimes(9), 0.99)).toBe('replicate');
    expect(treatment(updateReputation(NEW_REPUTATION, 'wrong', 1), 0.99)).toBe('replicate');
  });

  it('spot-checks a trusted volunteer with max(1/streak, 5 %) without the ramp (BOINC)', () => {
    const boinc = { ...DEFAULT_TRUST, rampChecks: 0 };
    expect(spotCheckFraction(agreedTimes(10), boinc)).toBeCloseTo(0.1);
    expect(spotCheckFraction(agreedTimes(100), boinc)).toBeCloseTo(0.05);
    const r = agreedTimes(10);
    expect(treatment(r, 0.09, boinc)).toBe('spot-check');
    expect(treatment(r, 0.1, boinc)).toBe('final');
    let checks = 0;
    const many = agreedTimes(1000);
    for (let i = 0; i < 10_000; i++) if (treatment(many, i / 10_000, boinc) === 'spot-check') checks++;
    expect(checks).toBe(500);
  });

  it('spot-checks a newly trusted volunteer at 50 % until its streak is 40 past the trust streak (the ramp)', () => {
    expect(spotCheckFraction(agreedTimes(10))).toBeCloseTo(0.5);
    expect(spotCheckFraction(agreedTimes(49))).toBeCloseTo(0.5);
    expect(spotCheckFraction(agreedTimes(50))).toBeCloseTo(0.05);
    expect(treatment(agreedTimes(10), 0.49)).toBe('spot-check');
    expect(treatment(agreedTimes(10), 0.5)).toBe('final');
    expect(treatment(agreedTimes(50), 0.05)).toBe('final');
    // The ramp never lowers BOINC's fraction (a trust streak of 1: 1/1 at first).
    expect(spotCheckFraction(agreedTimes(1), { ...DEFAULT_TRUST, trustStreak: 1 })).toBe(1);
  });
});

describe('settling a task', () => {
  it('stays pending with one result, or two from the same identity or network', () => {
    expect(settle([cand('a', honest)], true).kind).toBe('pending');
    expect(settle([cand('a', honest), cand('a', honest)], true).kind).toBe('pending');
    expect(settle([cand('a', honest, 'n1'), cand('b', honest, 'n1')], true).kind).toBe('pending');
    expect(settle([cand('a', honest, 'n1'), cand('b', honest, 'n1')], false).kind).toBe('final');
  });

  it('is final when two independent results agree, and names the dissenter', () => {
    const s = settle([cand('liar', lie), cand('a', honest), cand('b', honest)], true);
    expect(s.kind).toBe('final');
    if (s.kind !== 'final') return;
    expect(s.agreeing.map((c) => c.by)).toEqual(['a', 'b']);
    expect(s.wrong.map((c) => c.by)).toEqual(['liar']);
    expect(s.refereed).toBe(false);
  });

  it('never counts a quarantined volunteer, even when it agrees', () => {
    expect(settle([cand('q', honest, 'n1', true), cand('a', honest)], true).kind).toBe('pending');
  });

  it('cannot tell colluding liars on distinct networks from honest ones (docs/SECURITY.md)', () => {
    const s = settle([cand('x', lie), cand('y', lie), cand('a', honest)], true);
    expect(s.kind === 'final' && s.winner.by).toBe('y');
  });

  it('takes the referee as the truth', () => {
    const s = settle([cand('a', honest), cand('liar', lie), cand(REFEREE, honest, '')], true);
    expect(s.kind).toBe('final');
    if (s.kind !== 'final') return;
    expect(s.refereed).toBe(true);
    expect(s.wrong.map((c) => c.by)).toEqual(['liar']);
    expect(s.agreeing.map((c) => c.by)).toEqual([REFEREE, 'a']);
    expect(s.winner.by).toBe(REFEREE); // the referee's own result is published (rule V8)
    expect(s.detections).toEqual(honest);
    const alone = settle([cand('liar', lie), cand(REFEREE, honest, '')], true);
    expect(alone.kind === 'final' && alone.winner.by).toBe(REFEREE);
  });

  // Issue 17 B: a liar that learned the answer tampers with it within the old rule (only >= 0.5
  // compared): hides confident boxes, nudges boxes, adds boxes under 0.5. Before, it agreed and
  // its own result was published as `refereed`; now it disagrees, and what is published is the
  // referee's (or, replicated, only what both results back).
  const truth: Detection[] = [
    bus,
    person,
    { label: 'person', score: 0.45, box: [100, 40, 130, 150] },
    { label: 'cup', score: 0.2, box: [5, 5, 15, 15] },
  ];
  const tampered: Detection[] = [
    { ...bus, box: [10, 10, 200, 120] },
    { ...person, box: [56, 40, 86, 150] }, // nudged: IoU 0.67
    ...Array.from({ length: 40 }, (_, k): Detection => ({
      label: 'person',
      score: 0.26 + (k % 20) / 100,
      box: [300 + k, 200, 340 + k, 260],
    })),
  ];

  it('publishes the referee result, not an agreeing volunteer one, and catches the tampering liar', () => {
    const s = settle([cand('liar', tampered), cand(REFEREE, truth, '')], true);
    expect(s.kind).toBe('final');
    if (s.kind !== 'final') return;
    expect(s.wrong.map((c) => c.by)).toEqual(['liar']);
    expect(s.detections).toEqual(truth.slice(0, 3)); // the referee's, shown (>= 0.25) only
  });

  it('replicated: the tampering liar does not settle with an honest volunteer', () => {
    expect(settle([cand('liar', tampered), cand('a', truth)], true).kind).toBe('pending');
    const hidden = truth.filter((d) => d !== person);
    expect(settle([cand('liar', hidden), cand('a', truth)], true).kind).toBe('pending');
  });

  it('replicated: publishes only detections both results back, as the mean of the pair', () => {
    const near: Detection[] = [
      { ...bus, score: 0.86, box: [12, 10, 202, 120] },
      { ...person, score: 0.84 },
      { label: 'person', score: 0.42, box: [100, 40, 130, 150] },
      { label: 'cup', score: 0.3, box: [400, 5, 415, 15] }, // not shown by `a`: under 0.25 there
    ];
    const withCup: Detection[] = [...truth.slice(0, 3), { label: 'cup', score: 0.2, box: [400, 5, 415, 15] }];
    const s = settle([cand('a', withCup), cand('b', near)], true);
    expect(s.kind).toBe('final');
    if (s.kind !== 'final') return;
    expect(s.detections.map((d) => [d.label, +d.score.toFixed(3), d.box])).toEqual([
      ['bus', 0.88, [11, 10, 201, 120]],
      ['person', 0.82, [50, 40, 80, 150]],
      ['person', 0.435, [100, 40, 130, 150]],
      ['cup', 0.25, [400, 5, 415, 15]],
    ]);
  });
});
