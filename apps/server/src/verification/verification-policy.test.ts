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
    expect(s.kind === 'final' && s.winner.by).toBe('x');
  });

  it('takes the referee as the truth', () => {
    const s = settle([cand('a', honest), cand('liar', lie), cand(REFEREE, honest, '')], true);
    expect(s.kind).toBe('final');
    if (s.kind !== 'final') return;
    expect(s.refereed).toBe(true);
    expect(s.wrong.map((c) => c.by)).toEqual(['liar']);
    expect(s.agreeing.map((c) => c.by)).toEqual([REFEREE, 'a']);
    expect(s.winner.by).toBe('a'); // the volunteer's own agreeing result is published
    const alone = settle([cand('liar', lie), cand(REFEREE, honest, '')], true);
    expect(alone.kind === 'final' && alone.winner.by).toBe(REFEREE);
  });
});
