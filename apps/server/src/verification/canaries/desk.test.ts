import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { CanaryDesk, canaryRefreshMs, DEFAULT_CANARIES, type CanaryPolicy } from './desk';
import type { CanarySource } from './canary-sources';
import type { RefereeOutcome } from '../referee';
import type { VerificationMetrics } from '../verification-metrics';

const LEASE = 10_000;
const answer: Detection[] = [{ label: 'bus', score: 0.9, box: [4, 4, 30, 20] }];

/** Small real PNGs (the desk transforms them with sharp), one per source name. */
const images: Uint8Array[] = [];
beforeAll(async () => {
  for (let i = 0; i < 12; i++) {
    images.push(
      await sharp({
        create: { width: 48, height: 32, channels: 3, background: { r: 20 * i, g: 80, b: 160 } },
      })
        .png()
        .toBuffer(),
    );
  }
});

const source = (i: number, jobId = 'job_a'): CanarySource => ({
  jobId,
  name: `p${i}.png`,
  mime: 'image/png',
});

/**
 * A desk with a stand-in referee (answers at once, counts its runs), a fixed mirror transform and
 * metrics that count outcomes. `settle()` waits until every canary begun is made or unmade.
 */
function setup(policy: Partial<CanaryPolicy> = {}) {
  const counts: Record<string, number> = {};
  const metrics = {
    canaries: { inc: ({ outcome }: { outcome: string }) => (counts[outcome] = (counts[outcome] ?? 0) + 1) },
  } as unknown as VerificationMetrics;
  let begun = 0;
  let runs = 0;
  let n = 0;
  const referee = {
    enabled: true,
    /** `runIdle` refuses (as the server's referee under pressure does). */
    refuseIdle: false,
    run: (): Promise<RefereeOutcome> => {
      runs++;
      return Promise.resolve({ kind: 'detections', detections: answer });
    },
    runIdle: (): Promise<RefereeOutcome> | null => (referee.refuseIdle ? null : referee.run()),
  };
  const desk = new CanaryDesk(
    referee,
    { ...DEFAULT_CANARIES, rate: 0, ...policy },
    { task: () => `task_${++n}`, assignment: () => `asg_${++n}` },
    metrics,
    () => 0.5,
    () => {
      begun++;
      return { kind: 'flip' };
    },
  );
  const settle = async () => {
    while ((counts.made ?? 0) + (counts.unmade ?? 0) < begun) await new Promise((r) => setTimeout(r, 2));
  };
  return { desk, counts, settle, referee, runs: () => runs, begun: () => begun };
}

describe('CanaryDesk (rule V12)', () => {
  it('a quarantined volunteer that has had every ready canary keeps getting new ones (it never starves)', async () => {
    const { desk, settle, runs } = setup();
    // Real offers to other volunteers fill the pool (8) from 8 images.
    for (let i = 0; i < 8; i++) desk.observe(source(i), images[i]!, 0);
    await settle();
    expect(desk.readyCount).toBe(8);
    const had = new Set<string>();
    for (let i = 0; i < 8; i++) had.add(desk.take('liar', 0, LEASE, true)!.taskId);
    expect(had.size).toBe(8);

    // 30 s more of real work, an offer every 250 ms, the liar asking each time. Nobody else takes
    // canaries (rate 0), so the pool holds only ones the liar has had: it used to get nothing.
    let later = 0;
    for (let t = 250; t <= 30_000; t += 250) {
      desk.observe(source(8 + ((t / 250) % 4)), images[8 + ((t / 250) % 4)]!, t);
      const a = desk.take('liar', t, LEASE, true);
      if (a) {
        expect(had.has(a.taskId)).toBe(false); // never the same canary twice
        had.add(a.taskId);
        later++;
      }
      await settle();
    }
    // One new canary per refreshMs (1 s), the pool's size kept; one referee run per canary.
    expect(later).toBeGreaterThanOrEqual(28);
    expect(later).toBeLessThanOrEqual(30);
    expect(desk.readyCount).toBe(8);
    expect(runs()).toBe(8 + later);
  });

  it('refreshes at most once per refreshMs for all starving volunteers together, then again', async () => {
    const { desk, settle, begun } = setup({ poolSize: 2, refreshMs: 1000 });
    desk.observe(source(0), images[0]!, 0);
    desk.observe(source(1), images[1]!, 0);
    await settle();
    for (const v of ['a', 'b', 'c']) {
      expect(desk.take(v, 0, LEASE, true)).not.toBeNull();
      expect(desk.take(v, 0, LEASE, true)).not.toBeNull();
    }
    expect(begun()).toBe(2);
    // All three have had both: the first to ask starts one refresh, the others wait for it.
    for (const v of ['a', 'b', 'c']) expect(desk.take(v, 100, LEASE, true)).toBeNull();
    expect(begun()).toBe(3);
    await settle();
    expect(desk.readyCount).toBe(2);
    // Its canary goes to all three; asking again within the second starts nothing.
    for (const v of ['a', 'b', 'c']) expect(desk.take(v, 200, LEASE, true)).not.toBeNull();
    for (const v of ['a', 'b', 'c']) expect(desk.take(v, 900, LEASE, true)).toBeNull();
    expect(begun()).toBe(3);
    // The wait is flagged for the scheduler's lease check once the turn has come, and only once.
    expect(desk.refreshDue(1000)).toBe(false);
    expect(desk.refreshDue(1100)).toBe(true);
    expect(desk.refreshDue(1100)).toBe(false);
    expect(desk.take('a', 1100, LEASE, true)).toBeNull();
    expect(begun()).toBe(4);
    await settle();
    expect(desk.take('a', 1200, LEASE, true)).not.toBeNull();
  });

  it('a refresh the idle referee refuses is tried again at the next turn (the volunteer still waits)', async () => {
    const { desk, settle, counts, referee } = setup({ poolSize: 1, refreshMs: 1000 });
    desk.observe(source(0), images[0]!, 0);
    await settle();
    expect(desk.take('liar', 0, LEASE, true)).not.toBeNull();
    // Real work was refused a moment ago: the canary is not made (runIdle: null).
    referee.refuseIdle = true;
    expect(desk.take('liar', 100, LEASE, true)).toBeNull();
    await settle();
    expect(counts.unmade).toBe(1);
    // Alone, nothing else wakes it: its wait is flagged for the next refresh turn.
    referee.refuseIdle = false;
    expect(desk.refreshDue(1099)).toBe(false);
    expect(desk.refreshDue(1100)).toBe(true);
    expect(desk.take('liar', 1100, LEASE, true)).toBeNull();
    await settle();
    expect(desk.take('liar', 1200, LEASE, true)).not.toBeNull();
  });

  it('makes room by retiring the ready canary most used, then the oldest', async () => {
    const { desk, settle, counts } = setup({ poolSize: 3, maxUses: 4 });
    for (let i = 0; i < 3; i++) {
      desk.observe(source(i), images[i]!, i * 10);
      await settle();
    }
    // Everyone has had all three; p1's canary is the only one `other` also had.
    const names = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const a = desk.take('liar', 50, LEASE, true)!;
      names.set(a.name, a.taskId);
    }
    desk.take('other', 50, LEASE); // the oldest, p0
    desk.take('other', 50, LEASE); // p1
    expect(desk.take('liar', 2000, LEASE, true)).toBeNull();
    expect(counts.retired).toBe(1);
    await settle();
    // p0 and p1 were used twice; p0 is older and was retired. p1 and p2 are still there.
    const fresh = desk.take('liar', 2100, LEASE, true)!;
    expect(fresh).not.toBeNull();
    expect([...names.values()]).not.toContain(fresh.taskId);
    expect(desk.take('third', 2100, LEASE)?.name).toBe('p1.png');
    expect(desk.take('third', 2100, LEASE)?.name).toBe('p2.png');
  });

  it('makes new canaries from the recent images least recently used, so names vary', async () => {
    const { desk, settle } = setup({ poolSize: 2, refreshMs: 1000 });
    for (let i = 0; i < 2; i++) desk.observe(source(i), images[i]!, 0);
    await settle();
    desk.take('liar', 0, LEASE, true);
    desk.take('liar', 0, LEASE, true);
    const names: string[] = [];
    for (let t = 1000; t <= 8000; t += 1000) {
      expect(desk.take('liar', t, LEASE, true)).toBeNull();
      await settle();
      names.push(desk.take('liar', t, LEASE, true)!.name);
    }
    expect(names).toEqual(['p1.png', 'p0.png', 'p1.png', 'p0.png', 'p1.png', 'p0.png', 'p1.png', 'p0.png']);
  });

  it('only a quarantined volunteer starts a refresh; none without an image offered yet', async () => {
    const { desk, settle, begun } = setup({ poolSize: 1 });
    expect(desk.take('liar', 0, LEASE, true)).toBeNull(); // nothing offered yet
    expect(begun()).toBe(0);
    desk.observe(source(0), images[0]!, 0);
    await settle();
    expect(desk.take('honest', 0, LEASE)).not.toBeNull();
    expect(desk.take('honest', 5000, LEASE)).toBeNull(); // not in quarantine: gets a real task
    expect(begun()).toBe(1);
  });

  it('ready canaries age out after maxAgeMs; the next offers remake the pool', async () => {
    const { desk, settle, counts } = setup({ poolSize: 2, maxAgeMs: 60_000 });
    desk.observe(source(0), images[0]!, 0);
    await settle();
    desk.observe(source(1), images[1]!, 0);
    await settle();
    expect(desk.take('a', 59_999, LEASE)?.name).toBe('p0.png');
    desk.observe(source(2, 'job_b'), images[2]!, 60_000);
    expect(counts.retired).toBe(2);
    await settle();
    expect(desk.readyCount).toBe(1);
    const a = desk.take('b', 60_100, LEASE)!;
    expect([a.jobId, a.name]).toEqual(['job_b', 'p2.png']);
    // Taking also ages them out: nothing stale is offered.
    expect(desk.take('c', 120_100, LEASE)).toBeNull();
    expect(desk.readyCount).toBe(0);
  });

  it('a deleted job takes its canaries along: ready, held and being made', async () => {
    const { desk, settle, counts } = setup({ poolSize: 3 });
    desk.observe(source(0), images[0]!, 0);
    await settle();
    desk.observe(source(1, 'job_b'), images[1]!, 0);
    await settle();
    const held = desk.take('liar', 0, LEASE, true)!;
    expect(held.jobId).toBe('job_a');
    desk.observe(source(2), images[2]!, 0); // being made when the job is deleted
    expect(desk.forgetJob('job_a')).toEqual([{ assignmentId: held.assignmentId, volunteerId: 'liar' }]);
    // The scheduler ends it; a late result is then refused as a cancelled task's would be (T12).
    expect(desk.end(held.assignmentId)).toBe(true);
    expect(desk.owns(held.assignmentId)).toBe(true);
    expect(desk.cancelledFor(held.assignmentId, 'liar')).toBe(held.taskId);
    expect(desk.cancelledFor(held.assignmentId, 'other')).toBeUndefined();
    await settle();
    expect(counts.made).toBe(3);
    expect(desk.readyCount).toBe(1);
    expect(desk.take('other', 0, LEASE)?.jobId).toBe('job_b');
    // Its images are forgotten too: a refresh makes the next one from job_b's.
    expect(desk.take('other', 5000, LEASE, true)).toBeNull();
    await settle();
    expect(desk.take('other', 5100, LEASE, true)?.jobId).toBe('job_b');
  });

  it('spends at most a tenth of the referee budget on refreshes', () => {
    expect(canaryRefreshMs(10)).toBe(1000);
    expect(canaryRefreshMs(50)).toBe(200);
    expect(canaryRefreshMs(0)).toBe(10_000);
  });

  it('heartbeats cannot hold a canary past its cap: renewals stop at the offer + maxHoldMs, then it lapses', async () => {
    const { desk, settle } = setup();
    desk.observe(source(0), images[0]!, 0);
    await settle();
    const offer = desk.take('v', 0, LEASE)!;
    // Renewed every half lease for a long time: never past 25 s after the offer.
    for (let t = LEASE / 2; t <= 60_000; t += LEASE / 2) {
      expect(desk.renew('v', [offer.assignmentId], t, LEASE, 25_000)).toEqual([offer.assignmentId]);
      if (t + LEASE / 2 >= 25_000) break;
    }
    expect(desk.lapse(24_999)).toEqual([]);
    expect(desk.lapse(25_000)).toEqual([{ assignmentId: offer.assignmentId, volunteerId: 'v' }]);
  });

  it("a late result for a canary whose lease lapsed is still judged, as a real task's is taken", async () => {
    const { desk, settle } = setup();
    desk.observe(source(0), images[0]!, 0);
    await settle();
    const offer = desk.take('v', 0, LEASE)!;
    expect(desk.lapse(LEASE)).toEqual([{ assignmentId: offer.assignmentId, volunteerId: 'v' }]);
    expect(desk.owns(offer.assignmentId)).toBe(true);
    expect(desk.heldBy(offer.assignmentId, 'v')).toBeNull(); // no longer held (reports: not_holder)
    expect(desk.heldBy(offer.assignmentId, 'v', true)).not.toBeNull();
    expect(desk.judge(offer.assignmentId, 'other', [])).toBeNull();
    expect(desk.judge(offer.assignmentId, 'v', [])).toBe('failed');
    expect(desk.answeredBy(offer.assignmentId)).toBe('v'); // a replay: duplicate
  });

  it("prefers a volunteer that was not offered the canary's source task", async () => {
    const { desk, settle } = setup();
    desk.observe(source(0), images[0]!, 0, 'a'); // a was offered p0
    await settle();
    desk.observe(source(1), images[1]!, 0, 'b'); // b was offered p1
    await settle();
    expect(desk.take('a', 0, LEASE)!.name).toBe('p1.png');
    expect(desk.take('b', 0, LEASE)!.name).toBe('p0.png');
    // Only its own source's canary left for a: offered all the same (the preference is not a rule).
    expect(desk.take('a', 0, LEASE)!.name).toBe('p0.png');
  });
});
