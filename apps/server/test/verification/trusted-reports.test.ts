/**
 * Issue 17 A, rule T13: a task fails only for its own reasons, whoever reports a failure. Trusted
 * volunteers (real Socket.IO peers, made trusted by agreeing with each other) that then report
 * `inference_failed` on every task do not fail it: each report counts against its sender, and after
 * repeated reports the real referee runs the task itself. The task fails only when the referee
 * cannot decode it either (a blob made undecodable on disk after the upload).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobCreatedSchema, type TaskAssignment } from '@tabgrid/protocol';
import { sampleImages } from '../../../../scripts/assets';
import { FakeVolunteer } from '../support/fake-volunteer';
import { until, type TestServer } from '../support/harness';
import { readDb } from '../support/processes';
import { referenceDetections, serverPerTest, VERIFYING } from '../support/server-rig';

const photos = sampleImages().map((i) => i.name);
const reference = referenceDetections();
const honest = (t: TaskAssignment) => reference.get(t.name) ?? [];

const rig = serverPerTest();
const LABELS = ['trusted-a', 'trusted-b', 'trusted-c'];

const trustedCount = (s: TestServer, ids: string[]) =>
  (
    readDb(s.dataDir, (db) =>
      db.prepare('SELECT volunteer_id AS id FROM volunteer_reputation WHERE trusted_at IS NOT NULL').all(),
    ) as { id: string }[]
  ).filter((r) => ids.includes(r.id)).length;

async function connect(url: string, label: string) {
  const f = await FakeVolunteer.connect(url, { id: label, detections: honest, slots: 2 });
  rig.fakes.push(f);
  return f;
}

describe('trusted failure reports (rule T13)', () => {
  it('three trusted inference_failed reports on a good photo: the referee finishes it; on an undecodable one it fails for that', async () => {
    // Trusted after one agreement, never spot-checked, no canaries: the reports below are trusted.
    const s = await rig.start(
      { ...VERIFYING, canaryPercent: 0, trustStreak: 1, trustRampChecks: 0, spotCheckPercent: 0 },
      { random: () => 0.999 },
    );
    let fakes = await Promise.all(LABELS.map((l) => connect(s.url, l)));
    const ids = fakes.map((f) => f.volunteerId);
    for (let round = 0; round < 4 && trustedCount(s, ids) < ids.length; round++) {
      const warmup = await s.createJob(photos);
      expect((await s.waitForJob(warmup.id, 60_000)).status).toBe('done');
    }
    expect(trustedCount(s, ids)).toBe(ids.length);

    // Trusted, now declining everything: a good photo is still done, by the referee.
    for (const f of fakes) f.behaviour = 'inference-failed';
    const good = await s.createJob(photos.slice(0, 1));
    const done = await s.waitForJob(good.id, 60_000);
    expect(done.tasks[0]).toMatchObject({ status: 'done', verification: 'refereed' });
    expect(fakes.reduce((n, f) => n + f.reported.length, 0)).toBeGreaterThanOrEqual(3);

    // An image no one can decode (its blob spoiled after the upload, while nobody was online):
    // the same reports, and the referee's own verdict fails it.
    for (const f of fakes) f.close();
    await until(() => s.scheduler.volunteerCounts().online === 0, 10_000, 'volunteers gone');
    // Bytes after the JPEG's end: a photo the server never saw (and never cached), decodable.
    const fresh = Buffer.concat([readFileSync(sampleImages()[0]!.path), Buffer.from('unseen')]);
    const res = await s.upload([{ name: 'spoiled.jpg', bytes: fresh }]);
    expect(res.status).toBe(201);
    const bad = JobCreatedSchema.parse(await res.json());
    const sha = s.store.getTask(bad.tasks[0]!.id)!.imageSha256;
    writeFileSync(path.join(s.dataDir, 'images', sha.slice(0, 2), sha), 'not an image any more');
    fakes = await Promise.all(LABELS.map((l) => connect(s.url, l)));
    for (const f of fakes) f.behaviour = 'inference-failed';
    const failed = await s.waitForJob(bad.id, 60_000);
    expect(failed.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'undecodable' } });
  }, 240_000);
});
