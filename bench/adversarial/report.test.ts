/**
 * The adversarial report's overhead split (issue 17, "overhead once trusted"): tasks a trusted
 * volunteer answered first during the trust ramp and past it are counted apart, honest volunteers'
 * canaries count in the phase they were in, and canaries per final task come from the server's
 * counters. Pure: synthetic observations, no server.
 */
import { describe, expect, it } from 'vitest';
import { computeFigures } from './report';
import type { TaskHistory } from './observe';
import type { SuiteObservations } from './suite';

const task = (id: string, verification: string): TaskHistory =>
  ({
    taskId: id,
    jobId: 'j',
    name: `${id}.jpg`,
    submittedAt: 0,
    finals: [],
    last: { id, name: `${id}.jpg`, status: 'done', detections: [], verification },
  }) as unknown as TaskHistory;

describe('computeFigures: overhead once trusted', () => {
  it('splits trusted tasks into during the ramp and past it, by when the first honest result came', () => {
    // h1: trusted at 100, seen past the ramp at 200; h2 only ever runs replicas.
    const results = new Map([
      [
        'probation',
        [
          { volunteerId: 'h1', endedAt: 50 },
          { volunteerId: 'h2', endedAt: 55 },
        ],
      ],
      [
        'ramp-checked',
        [
          { volunteerId: 'h1', endedAt: 150 },
          { volunteerId: 'h2', endedAt: 151 },
        ],
      ],
      ['ramp-final', [{ volunteerId: 'h1', endedAt: 160 }]],
      [
        'past-checked',
        [
          { volunteerId: 'h1', endedAt: 250 },
          { volunteerId: 'h2', endedAt: 251 },
        ],
      ],
      ['past-final-1', [{ volunteerId: 'h1', endedAt: 260 }]],
      ['past-final-2', [{ volunteerId: 'h1', endedAt: 270 }]],
      ['past-final-3', [{ volunteerId: 'h1', endedAt: 280 }]],
    ]);
    const rep = (id: string, firstTrustedAt: number | null, pastRampAt: number | null) => ({
      id,
      streak: 60,
      verified: 60,
      invalid: 0,
      firstTrustedAt,
      pastRampAt,
      quarantinedAt: null,
      canaries: 0,
      canariesAtTrusted: null,
      canariesAtPastRamp: null,
    });
    const observed: SuiteObservations = {
      startedAt: 0,
      endedAt: 1000,
      photos: new Map(),
      truth: new Map(),
      tasks: [...results.keys()].map((id) => task(id, id.endsWith('checked') ? 'spot-checked' : 'trusted')),
      liars: [],
      honestAgentIds: ['h1', 'h2'],
      reputations: [rep('h1', 100, 200), rep('h2', null, null)],
      results,
      canaries: { passed: 7, refereeRuns: 1 },
    };
    const f = computeFigures(observed);
    expect(f.overhead.probation).toMatchObject({ finalTasks: 1, extraInferencesPerTask: 1 });
    expect(f.overhead.trusted).toMatchObject({ finalTasks: 6, extraInferencesPerTask: 0.333 });
    expect(f.overhead.ramp).toMatchObject({ finalTasks: 2, extraInferencesPerTask: 0.5 });
    expect(f.overhead.pastRamp).toMatchObject({ finalTasks: 4, extraInferencesPerTask: 0.25 });
    expect(f.canaries).toEqual({ passedPerTask: 1, refereeRunsPerTask: 0.143 });
  });

  it('counts a task against the volunteer it was first offered to, not whoever answered first', () => {
    // h1 past the ramp from 100; h2 still in it (trusted at 10); s is a staller (a liar) that never answers.
    const held = (volunteerId: string, assignedAt: number, endedAt: number | null, returned: boolean) => ({
      volunteerId,
      assignedAt,
      endedAt,
      returned,
    });
    const holders = new Map([
      // h2's spot check, its replica paired to h1, which answered first.
      ['ramp-check', [held('h2', 200, 230, true), held('h1', 200, 210, true)]],
      // The staller's offer, its replica paired to h1; the referee settled it.
      ['staller', [held('s', 300, 330, false), held('h1', 300, 310, true)]],
      // The staller's offer lapsed; then h1 ran it alone, final.
      ['requeued', [held('s', 400, 430, false), held('h1', 440, 450, true)]],
    ]);
    const results = new Map(
      [...holders].map(([id, list]) => [
        id,
        list.filter((h) => h.returned).map((h) => ({ volunteerId: h.volunteerId, endedAt: h.endedAt! })),
      ]),
    );
    const rep = (id: string, firstTrustedAt: number, pastRampAt: number | null) => ({
      id,
      streak: 60,
      verified: 60,
      invalid: 0,
      firstTrustedAt,
      pastRampAt,
      quarantinedAt: null,
      canaries: 0,
      canariesAtTrusted: null,
      canariesAtPastRamp: null,
    });
    const marks: Record<string, string> = {
      'ramp-check': 'spot-checked',
      staller: 'refereed',
      requeued: 'trusted',
    };
    const f = computeFigures({
      startedAt: 0,
      endedAt: 1000,
      photos: new Map(),
      truth: new Map(),
      tasks: [...holders.keys()].map((id) => task(id, marks[id]!)),
      liars: [{ name: 'stall', kind: 'stall', spec: { kind: 'stall' }, volunteerId: 's', events: [] }],
      honestAgentIds: ['h1', 'h2'],
      reputations: [rep('h1', 10, 100), rep('h2', 10, null)],
      results,
      holders,
    });
    expect(f.overhead.ramp).toMatchObject({ finalTasks: 1, extraInferencesPerTask: 1 });
    expect(f.overhead.probation).toMatchObject({ finalTasks: 1, extraInferencesPerTask: 1 });
    expect(f.overhead.pastRamp).toMatchObject({ finalTasks: 1, extraInferencesPerTask: 0, liarHeld: 1 });
  });

  it("counts honest volunteers' canary answers, and their share of the canaries' referee runs, in the phase they were in", () => {
    // h1: 2 canaries before trust, 2 more during the ramp, 6 past it; h2 (never trusted) 1; the
    // liar l (quarantined: canaries only) 50, not in the overhead. Each canary answer stands for
    // 8 referee runs / 80 answers = 0.1 referee run.
    const results = new Map([
      [
        'probation',
        [
          { volunteerId: 'h1', endedAt: 50 },
          { volunteerId: 'h2', endedAt: 55 },
        ],
      ],
      ['ramp-final', [{ volunteerId: 'h1', endedAt: 150 }]],
      ['past-final-1', [{ volunteerId: 'h1', endedAt: 250 }]],
      ['past-final-2', [{ volunteerId: 'h1', endedAt: 260 }]],
      ['past-final-3', [{ volunteerId: 'h1', endedAt: 270 }]],
    ]);
    const rep = (
      id: string,
      times: [number | null, number | null, number | null],
      canaries: [number, number | null, number | null],
    ) => ({
      id,
      streak: 60,
      verified: 60,
      invalid: 0,
      firstTrustedAt: times[0],
      pastRampAt: times[1],
      quarantinedAt: times[2],
      canaries: canaries[0],
      canariesAtTrusted: canaries[1],
      canariesAtPastRamp: canaries[2],
    });
    const f = computeFigures({
      startedAt: 0,
      endedAt: 1000,
      photos: new Map(),
      truth: new Map(),
      tasks: [...results.keys()].map((id) => task(id, id === 'probation' ? 'spot-checked' : 'trusted')),
      liars: [{ name: 'lie', kind: 'stall', spec: { kind: 'stall' }, volunteerId: 'l', events: [] }],
      honestAgentIds: ['h1', 'h2'],
      reputations: [
        rep('h1', [100, 200, null], [10, 2, 4]),
        rep('h2', [null, null, null], [1, null, null]),
        rep('l', [null, null, 10], [50, null, null]),
      ],
      results,
      canaries: { passed: 60, failed: 20, refereeRuns: 8 },
    });
    // Past the ramp: (3 results + 6 canaries + 0.6 referee runs) / 3 tasks - 1.
    expect(f.overhead.pastRamp).toMatchObject({
      finalTasks: 3,
      honestCanariesPerTask: 2,
      canaryRefereeRunsPerTask: 0.2,
      extraInferencesPerTask: 2.2,
    });
    expect(f.overhead.ramp).toMatchObject({
      finalTasks: 1,
      honestCanariesPerTask: 2,
      extraInferencesPerTask: 2.2,
    });
    expect(f.overhead.probation).toMatchObject({
      finalTasks: 1,
      honestCanariesPerTask: 3,
      extraInferencesPerTask: 4.3,
    });
    expect(f.overhead.all).toMatchObject({ finalTasks: 5, honestCanariesPerTask: 2.2 });
  });
});
