/**
 * Canaries (PROTOCOL.md rule V12) with real parts: a real server and referee (worker thread), a
 * real in-process agent and scripted liars over real Socket.IO. A canary's answer comes from the
 * referee on the transformed copy; an honest agent must agree with it, a liar must not.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { TaskAssignmentSchema, type JobView } from '@tabgrid/protocol';
import { sampleImages } from '../../../../scripts/assets';
import { agree } from '../../src/verification/agreement';
import { FakeVolunteer } from '../support/fake-volunteer';
import { bearer, until, type TestServer } from '../support/harness';
import { readDb } from '../support/processes';
import { metric, referenceDetections, serverPerTest, VERIFYING } from '../support/server-rig';

const reference = referenceDetections();
const photos = sampleImages().map((i) => i.name);

const rig = serverPerTest();
const { agents, fakes, honestAgent } = rig;

function reputation(s: TestServer, volunteerId: string) {
  return readDb(s.dataDir, (db) =>
    db
      .prepare('SELECT quarantined_at AS q, verified FROM volunteer_reputation WHERE volunteer_id = ?')
      .get(volunteerId),
  ) as { q: number | null; verified: number } | undefined;
}

const wrongTask = (t: JobView['tasks'][number]) =>
  t.status === 'done' && !agree(t.detections, reference.get(t.name) ?? []);

describe('canaries (V12)', () => {
  it('a quarantined volunteer gets only canaries, shaped like real tasks, that never reach a job', async () => {
    const s = await rig.start({ ...VERIFYING, canaryPercent: 0 });
    const liar = await FakeVolunteer.connect(s.url, { id: 'empty-liar', detections: () => [] });
    fakes.push(liar);
    await honestAgent(s.url);
    const first = await s.createJob(photos);
    await until(() => reputation(s, liar.volunteerId)?.q != null, 60_000, 'liar quarantined');
    await s.waitForJob(first.id, 90_000);

    // Canaries are made only while the referee idles (issue 18): under load the honest agent may
    // finish a whole job before one is ready, so a further job is tried (at most 3 in all).
    let later: typeof liar.assigned = [];
    let done: JobView | undefined;
    for (let round = 0; round < 3 && later.length === 0; round++) {
      const next = await s.createJob([...photos, ...photos]);
      done = await s.waitForJob(next.id, 120_000);
      expect(done.tasks.filter((t) => t.status !== 'done')).toEqual([]);
      expect(done.tasks.filter(wrongTask).map((t) => t.name)).toEqual([]);
      // Offered after this job existed (the earlier jobs' tasks were all done by then).
      later = liar.assigned.filter((a) => a.jobId === next.id);
      console.log(`[canaries] quarantined liar: ${later.length} canaries of job ${round + 2}`);
    }
    expect(later.length).toBeGreaterThan(0);
    const taskIds = new Set(done!.tasks.map((t) => t.id));
    for (const a of later) {
      // Not a task of any job: a canary, with the job id and a name of a real task.
      expect(s.store.getTask(a.taskId)).toBeNull();
      expect(taskIds.has(a.taskId)).toBe(false);
      expect(photos).toContain(a.name);
      expect(TaskAssignmentSchema.safeParse(a).success).toBe(true);
      expect(a.taskId).toMatch(/^task_[\w-]{12}$/);
      const bytes = Buffer.from(a.image as Uint8Array);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(a.imageSha256);
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height]).toEqual([a.width, a.height]);
      expect(`image/${meta.format}`).toBe(a.mime);
    }
    // Its empty answers were judged against the referee's: caught again, nothing else happened.
    expect(await metric(s, 'tabgrid_canaries_total', 'outcome="failed"')).toBeGreaterThan(0);
  }, 480_000);

  it('a quarantined volunteer left alone keeps getting new canaries; deleting their job cancels the held one', async () => {
    const s = await rig.start({ ...VERIFYING, canaryPercent: 0 });
    const liar = await FakeVolunteer.connect(s.url, { id: 'lone-liar', detections: () => [] });
    fakes.push(liar);
    const agent = await honestAgent(s.url);
    const first = await s.createJob(photos);
    await until(() => reputation(s, liar.volunteerId)?.q != null, 60_000, 'liar quarantined');
    await s.waitForJob(first.id, 90_000);
    await agents.splice(agents.indexOf(agent), 1)[0]!.stop();

    // Nobody else works now, so no real offer brings an image: beyond the 8 canaries the pool may
    // hold, each one it gets is made for it (refresh) from the images offered before.
    const before = liar.assigned.length;
    const second = await s.createJob(photos);
    await until(() => liar.assigned.length >= before + 12, 60_000, '12 more canaries for the liar');
    const later = liar.assigned.slice(before);
    expect(new Set(later.map((a) => a.taskId)).size).toBe(later.length); // never one twice
    for (const a of later) {
      expect(s.store.getTask(a.taskId)).toBeNull();
      expect(a.jobId).toBe(first.id);
    }
    // The second job's tasks were never offered: still all queued.
    expect((await s.getJob(second.id)).tasks.map((t) => t.status)).toEqual(photos.map(() => 'queued'));

    // It holds the next one; the first job is deleted: the canary is cancelled as its tasks would
    // be (T12), and a late result is refused as theirs would be.
    liar.behaviour = 'ack-then-silent';
    const from = liar.assigned.length; // earlier ones may still be answered (honest, 5 ms)
    const held = await until(
      () => liar.assigned.slice(from).find((a) => liar.held.has(a.assignmentId))?.assignmentId,
      30_000,
      'a held canary',
    );
    const res = await fetch(`${s.url}/api/jobs/${first.id}`, { method: 'DELETE', headers: bearer() });
    expect(res.status).toBe(200);
    await until(() => liar.cancelled.includes(held), 5000, 'task:cancel for the held canary');
    const late = liar.assigned.find((a) => a.assignmentId === held)!;
    expect(late.jobId).toBe(first.id);
    expect(await liar.answer(late)).toMatchObject({ ok: false, code: 'task_completed' });
  }, 240_000);

  it('an honest agent agrees with canaries made from crops, flips and rescales; its job is unaffected', async () => {
    // Two referee threads: canaries are made only while one is idle (issue 18), and a lone new
    // agent keeps one thread busy verifying its results.
    const s = await rig.start({ ...VERIFYING, canaryPercent: 100, refereeWorkers: 2 });
    await honestAgent(s.url);
    const job = await s.createJob([...photos, ...photos]);
    const done = await s.waitForJob(job.id, 120_000);
    expect(done.tasks.filter((t) => t.status !== 'done')).toEqual([]);
    expect(done.tasks.filter(wrongTask).map((t) => t.name)).toEqual([]);
    expect(done.tasks.length).toBe(photos.length * 2);
    // Under load the referee may not have idled during that job: a second one meets the canaries
    // made since (from the first job's images).
    if ((await metric(s, 'tabgrid_canaries_total', 'outcome="passed"')) === 0) {
      const again = await s.createJob(photos);
      expect((await s.waitForJob(again.id, 120_000)).tasks.filter(wrongTask)).toEqual([]);
    }
    const passed = await metric(s, 'tabgrid_canaries_total', 'outcome="passed"');
    const failed = await metric(s, 'tabgrid_canaries_total', 'outcome="failed"');
    console.log(`[canaries] honest agent: ${passed} passed, ${failed} failed`);
    expect(passed).toBeGreaterThan(0);
    expect(failed).toBe(0);
    const reps = readDb(s.dataDir, (db) =>
      db.prepare('SELECT quarantined_at AS q FROM volunteer_reputation').all(),
    ) as { q: number | null }[];
    expect(reps.filter((r) => r.q !== null)).toEqual([]);
  }, 240_000);

  it('a volunteer that declines every canary with inference_failed is quarantined like a liar', async () => {
    const s = await rig.start({ ...VERIFYING, canaryPercent: 100 });
    await honestAgent(s.url);
    const decliner = await FakeVolunteer.connect(s.url, { id: 'decliner', behaviour: 'inference-failed' });
    fakes.push(decliner);
    const job = await s.createJob([...photos, ...photos]);
    await until(() => reputation(s, decliner.volunteerId)?.q != null, 90_000, 'decliner quarantined');
    const canaries = decliner.assigned.filter((a) => s.store.getTask(a.taskId) === null);
    console.log(
      `[canaries] decliner: ${decliner.reported.length} reports, ${canaries.length} of them canaries`,
    );
    expect(canaries.length).toBeGreaterThan(0);
    expect(await metric(s, 'tabgrid_canaries_total', 'outcome="failed"')).toBeGreaterThan(0);
    // Its declines cost the job nothing: every task is done by the honest agent.
    const done = await s.waitForJob(job.id, 120_000);
    expect(done.tasks.filter((t) => t.status !== 'done')).toEqual([]);
    expect(done.tasks.filter(wrongTask).map((t) => t.name)).toEqual([]);
  }, 240_000);
});
