/**
 * The volunteer swarm the verification load tests (canary reuse, paired replicas) start from:
 * many honest scripted volunteers and jobs of one flat photo, whose honest answer is `[]`, so
 * every honest result agrees with every other and with the referee.
 *
 * @example
 * const rig = serverPerTest();
 * it('…', async () => {
 *   const s = await rig.start({ ...VERIFYING, canaryPercent: 0 });
 *   await honestSwarm(rig, s.url, 20, 300);
 *   const views = await flatJobs(s, 200);
 * });
 */
import sharp from 'sharp';
import { expect } from 'vitest';
import type { JobView } from '@tabgrid/protocol';
import { FakeVolunteer } from './fake-volunteer';
import type { TestServer } from './harness';
import type { ServerRig } from './server-rig';

/** A flat 64×48 JPEG: the detector finds nothing on it (nor on its canaries: crops, flips, rescales). */
export const flatPhoto = async (): Promise<Uint8Array> =>
  new Uint8Array(
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
      .jpeg()
      .toBuffer(),
  );

/** `count` honest volunteers (`honest0`…), each answering `[]` after `delayMs`; closed after the test. */
export async function honestSwarm(
  rig: ServerRig,
  url: string,
  count: number,
  delayMs: number,
): Promise<void> {
  for (let i = 0; i < count; i++)
    rig.fakes.push(await FakeVolunteer.connect(url, { id: `honest${i}`, delayMs, detections: () => [] }));
}

/** `tasks` flat photos uploaded as jobs of 100 (one upload each); their views once all are finished. */
export async function flatJobs(s: TestServer, tasks: number, timeoutMs = 90_000): Promise<JobView[]> {
  const bytes = await flatPhoto();
  const jobs: string[] = [];
  for (let j = 0; j < tasks / 100; j++) {
    const files = Array.from({ length: 100 }, (_, i) => ({ name: `p${j}-${i}.jpg`, bytes }));
    const res = await s.upload(files);
    expect(res.status).toBe(201);
    jobs.push(((await res.json()) as { id: string }).id);
  }
  const views: JobView[] = [];
  for (const id of jobs) views.push(await s.waitForJob(id, timeoutMs));
  return views;
}
