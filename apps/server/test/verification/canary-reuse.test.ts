/**
 * A canary is made once and its known answer used many times (issue 18, rule V12): making one
 * costs a referee inference, using one costs nothing. Real parts: a real server (SQLite, the
 * referee in a worker thread), honest scripted volunteers over real Socket.IO; counted from
 * `/metrics` (`tabgrid_canaries_total`: `made` is one referee inference each).
 */
import { describe, expect, it } from 'vitest';
import { flatJobs, honestSwarm } from '../support/flat-swarm';
import { metric, serverPerTest } from '../support/server-rig';

const VOLUNTEERS = 16;
const TASKS = 200;

const rig = serverPerTest();

describe('canaries (V12)', () => {
  it('one referee inference per canary serves many volunteers', async () => {
    const s = await rig.start({
      verification: true,
      distinctNetworks: false,
      refereeBudget: 50,
      // Every offer is a canary when one is ready that this volunteer has not had.
      canaryPercent: 100,
    });
    await honestSwarm(rig, s.url, VOLUNTEERS, 200);
    await flatJobs(s, TASKS);

    const canaries = (outcome: string) => metric(s, 'tabgrid_canaries_total', `outcome="${outcome}"`);
    const made = await canaries('made');
    const failed = await canaries('failed');
    const used = (await canaries('passed')) + failed;
    expect(made).toBeGreaterThan(0);
    expect(failed).toBe(0);
    // Each canary was answered by many volunteers (at most 4 each before issue 18).
    expect(used).toBeGreaterThanOrEqual(6 * made);
  }, 120_000);
});
