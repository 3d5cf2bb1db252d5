/**
 * Replicas meet without the referee (issue 18, rule V3): with verification on and many honest
 * volunteers, a task needing a replica has it offered to another volunteer in the same dispatch
 * pass, so the two run at the same time. Real parts: a real server (the referee in a worker thread)
 * on SQLite and on a real redis-server, scripted honest volunteers over real Socket.IO.
 *
 * The volunteers answer after 300 ms and the replica wait is 200 ms: a replica offered only after
 * the first result (the old path) always comes too late and the task asks the referee (which, over
 * its budget, mostly refuses), as under load, where offers wait seconds inside the server. Paired
 * replicas answer together.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVolunteer } from '../support/fake-volunteer';
import { bearer } from '../support/harness';
import { startRedis, type TestRedis } from '../support/redis';
import { serverPerTest } from '../support/server-rig';

const VOLUNTEERS = 20;
const TASKS = 200;

const rig = serverPerTest();
const fakes = rig.fakes;

let redis: TestRedis | undefined;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** A flat photo: the detector finds nothing on it, so `[]` is the honest answer. */
const flatPhoto = async () =>
  new Uint8Array(
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
      .jpeg()
      .toBuffer(),
  );

describe.each(['sqlite', 'redis'] as const)('paired replicas (V3) on %s', (backend) => {
  it(`${VOLUNTEERS} honest volunteers settle ${TASKS} tasks by agreement, the referee asked for at most 5 %`, async () => {
    const server = await rig.start({
      verification: true,
      distinctNetworks: false,
      refereeAfterMs: 200,
      refereeBudget: 50,
      canaryPercent: 0,
      ...(backend === 'redis' ? { redisUrl: redis!.url, gatewayId: `gw-pairing-${Date.now()}` } : {}),
    });
    const s = server;
    for (let i = 0; i < VOLUNTEERS; i++) {
      fakes.push(
        await FakeVolunteer.connect(s.url, { id: `honest${i}`, delayMs: 300, detections: () => [] }),
      );
    }
    const bytes = await flatPhoto();
    const jobs: string[] = [];
    for (let j = 0; j < TASKS / 100; j++) {
      const files = Array.from({ length: 100 }, (_, i) => ({ name: `p${j}-${i}.jpg`, bytes }));
      const res = await s.upload(files);
      expect(res.status).toBe(201);
      jobs.push(((await res.json()) as { id: string }).id);
    }
    const tasks = [];
    for (const id of jobs) tasks.push(...(await s.waitForJob(id, 90_000)).tasks);
    expect(tasks).toHaveLength(TASKS);
    expect(tasks.every((t) => t.status === 'done')).toBe(true);
    const refereed = tasks.filter((t) => t.verification === 'refereed').length;
    const byAgreement = tasks.filter(
      (t) => t.verification === 'replicated' || t.verification === 'spot-checked',
    );
    // Every time a waiting task asked the referee (settled, refused over budget, or failed).
    const metrics = await (await fetch(`${s.url}/metrics`, { headers: bearer() })).text();
    const asked = [
      ...metrics.matchAll(/^tabgrid_referee_runs_total\{outcome="(settled|over_budget|failed)"\} (\d+)/gm),
    ]
      .map((m) => Number(m[2]))
      .reduce((a, b) => a + b, 0);
    expect(asked / TASKS).toBeLessThanOrEqual(0.05);
    expect(refereed / TASKS).toBeLessThanOrEqual(0.05);
    expect(byAgreement.length).toBeGreaterThan(TASKS / 2);
  }, 120_000);
});
