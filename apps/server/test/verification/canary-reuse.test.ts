/**
 * A canary is made once and its known answer used many times (issue 18, rule V12): making one
 * costs a referee inference, using one costs nothing. Real parts: a real server (SQLite, the
 * referee in a worker thread), honest scripted volunteers over real Socket.IO; counted from
 * `/metrics` (`tabgrid_canaries_total`: `made` is one referee inference each).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FakeVolunteer } from '../support/fake-volunteer';
import { bearer } from '../support/harness';
import { serverPerTest } from '../support/server-rig';

const VOLUNTEERS = 16;
const TASKS = 200;

const rig = serverPerTest();
const fakes = rig.fakes;

const counter = (metrics: string, outcome: string) =>
  Number(new RegExp(`^tabgrid_canaries_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);

describe('canaries (V12)', () => {
  it('one referee inference per canary serves many volunteers', async () => {
    const server = await rig.start({
      verification: true,
      distinctNetworks: false,
      refereeBudget: 50,
      // Every offer is a canary when one is ready that this volunteer has not had.
      canaryPercent: 100,
    });
    const s = server;
    for (let i = 0; i < VOLUNTEERS; i++) {
      fakes.push(
        await FakeVolunteer.connect(s.url, { id: `honest${i}`, delayMs: 200, detections: () => [] }),
      );
    }
    // A flat photo (and its canaries: crops, flips, rescales of it): the honest answer is `[]`.
    const bytes = new Uint8Array(
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
        .jpeg()
        .toBuffer(),
    );
    const jobs: string[] = [];
    for (let j = 0; j < TASKS / 100; j++) {
      const files = Array.from({ length: 100 }, (_, i) => ({ name: `p${j}-${i}.jpg`, bytes }));
      const res = await s.upload(files);
      expect(res.status).toBe(201);
      jobs.push(((await res.json()) as { id: string }).id);
    }
    for (const id of jobs) await s.waitForJob(id, 90_000);

    const metrics = await (await fetch(`${s.url}/metrics`, { headers: bearer() })).text();
    const made = counter(metrics, 'made');
    const used = counter(metrics, 'passed') + counter(metrics, 'failed');
    expect(made).toBeGreaterThan(0);
    expect(counter(metrics, 'failed')).toBe(0);
    // Each canary was answered by many volunteers (at most 4 each before issue 18).
    expect(used).toBeGreaterThanOrEqual(6 * made);
  }, 120_000);
});
