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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../support/redis';
import { flatJobs, honestSwarm } from '../support/flat-swarm';
import { metric, serverPerTest } from '../support/server-rig';

const VOLUNTEERS = 20;
const TASKS = 200;

const rig = serverPerTest();

let redis: TestRedis | undefined;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each(['sqlite', 'redis'] as const)('paired replicas (V3) on %s', (backend) => {
  it(`${VOLUNTEERS} honest volunteers settle ${TASKS} tasks by agreement, the referee asked for at most 5 %`, async () => {
    const s = await rig.start({
      verification: true,
      distinctNetworks: false,
      refereeAfterMs: 200,
      refereeBudget: 50,
      canaryPercent: 0,
      ...(backend === 'redis' ? { redisUrl: redis!.url, gatewayId: `gw-pairing-${Date.now()}` } : {}),
    });
    await honestSwarm(rig, s.url, VOLUNTEERS, 300);
    const tasks = (await flatJobs(s, TASKS)).flatMap((view) => view.tasks);
    expect(tasks).toHaveLength(TASKS);
    expect(tasks.every((t) => t.status === 'done')).toBe(true);
    const refereed = tasks.filter((t) => t.verification === 'refereed').length;
    const byAgreement = tasks.filter(
      (t) => t.verification === 'replicated' || t.verification === 'spot-checked',
    );
    // Every time a waiting task asked the referee (settled, refused over budget, or failed).
    let asked = 0;
    for (const outcome of ['settled', 'over_budget', 'failed'])
      asked += await metric(s, 'tabgrid_referee_runs_total', `outcome="${outcome}"`);
    expect(asked / TASKS).toBeLessThanOrEqual(0.05);
    expect(refereed / TASKS).toBeLessThanOrEqual(0.05);
    expect(byAgreement.length).toBeGreaterThan(TASKS / 2);
  }, 120_000);
});
