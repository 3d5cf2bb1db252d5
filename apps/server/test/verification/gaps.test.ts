/**
 * The verification gaps closed after the first pass (PROTOCOL.md rules V9–V11), with real parts:
 * a real server, the referee in a worker thread (or made to fail by a missing model file), real
 * in-process agents and scripted volunteers over real Socket.IO.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '@tabgrid/protocol';
import { sampleImages } from '../../../../scripts/assets';
import { agree } from '../../src/verification/agreement';
import type { ServerConfig } from '../../src/config';
import { FakeVolunteer } from '../support/fake-volunteer';
import { bearer, until, type TestServer } from '../support/harness';
import { ManualClock } from '../support/manual-clock';
import { readDb } from '../support/processes';
import { referenceDetections, serverPerTest, VERIFYING } from '../support/server-rig';

const reference = referenceDetections();
/** Photos with something confident in them (an empty result disagrees with their truth). */
let busy: string[] = [];

beforeAll(() => {
  busy = [...reference].filter(([, d]) => d.some((x) => x.score >= 0.6)).map(([n]) => n);
});

const rig = serverPerTest();
const { fakes, honestAgent } = rig;

// Canaries (V12) are tested on their own (canaries.test.ts).
const CHECKING: Partial<ServerConfig> = { ...VERIFYING, canaryPercent: 0 };

async function fake(
  url: string,
  id: string,
  options: Partial<ConstructorParameters<typeof FakeVolunteer>[1]> = {},
) {
  const f = await FakeVolunteer.connect(url, { id, ...options });
  fakes.push(f);
  return f;
}

const wrongTask = (t: JobView['tasks'][number]) =>
  t.status === 'done' && !agree(t.detections, reference.get(t.name) ?? []);

/** One sample of a counter from /metrics (0 when absent). */
async function metric(s: TestServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`, { headers: bearer() })).text();
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.split(' ').pop()) : 0;
}

function quarantined(s: TestServer, volunteerId: string): boolean {
  const row = readDb(s.dataDir, (db) =>
    db
      .prepare('SELECT quarantined_at AS q FROM volunteer_reputation WHERE volunteer_id = ?')
      .get(volunteerId),
  ) as { q: number | null } | undefined;
  return row?.q != null;
}

describe('verification gaps', () => {
  it('a referee that keeps failing is retried with backoff, then gives up, and a third volunteer breaks the tie (V9)', async () => {
    expect(busy.length).toBeGreaterThan(0);
    const s = await rig.start(
      { ...CHECKING, refereeMaxFailures: 2 },
      { refereeModel: '/nonexistent/referee-model.onnx' },
    );
    const liar = await fake(s.url, 'empty-liar', { detections: () => [] });
    await honestAgent(s.url);
    const job = await s.createJob(busy.slice(0, 2));
    await until(() => liar.results.length === 2, 30_000, 'the liar answered both');
    // The honest agent and the liar disagree; the referee fails twice per task (600 ms apart:
    // the failures are counted, the waits are not asserted), then gives up on both tasks.
    await until(
      async () => (await metric(s, 'tabgrid_referee_runs_total', 'outcome="gave_up"')) >= 2,
      60_000,
      'referee gave up',
    );
    expect(await metric(s, 'tabgrid_referee_runs_total', 'outcome="failed"')).toBeGreaterThanOrEqual(4);
    expect(await metric(s, 'tabgrid_referee_runs_total', 'outcome="settled"')).toBe(0);
    const waiting = await s.getJob(job.id);
    expect(waiting.tasks.filter((t) => t.status === 'done')).toEqual([]);

    // A third volunteer: its result agrees with the honest one, the task is final, the liar caught.
    await honestAgent(s.url);
    const done = await s.waitForJob(job.id, 60_000);
    expect(done.status).toBe('done');
    for (const t of done.tasks) {
      expect(t, t.name).toMatchObject({ status: 'done', verification: 'replicated', agreeing: 2 });
      expect(wrongTask(t), t.name).toBe(false);
    }
    expect(quarantined(s, liar.volunteerId)).toBe(true);
  }, 120_000);

  it('a false undecodable report is caught by the referee, quarantines its sender and fails nothing (V10)', async () => {
    const s = await rig.start({ ...CHECKING, maxFailureReports: 1 });
    const claimant = await fake(s.url, 'false-undecodable', { behaviour: 'undecodable' });
    const job = await s.createJob(busy.slice(0, 1));
    await until(() => quarantined(s, claimant.volunteerId), 30_000, 'claimant quarantined');
    // Offered the real task once (a quarantined volunteer may get canaries after that, V12).
    const taskId = (await s.getJob(job.id)).tasks[0]!.id;
    expect(claimant.assigned.filter((a) => a.taskId === taskId)).toHaveLength(1);
    expect(await metric(s, 'tabgrid_undecodable_claims_total', 'verdict="false"')).toBe(1);
    // One report would fail the task if it counted (maxFailureReports 1): it did not. It waits, or
    // the referee already ran it, since no one else could take it (T13).
    expect(['queued', 'running', 'done']).toContain((await s.getJob(job.id)).tasks[0]!.status);

    await honestAgent(s.url);
    const done = await s.waitForJob(job.id, 60_000);
    expect(done.tasks[0]).toMatchObject({ status: 'done', verification: 'refereed' });
    expect(wrongTask(done.tasks[0]!)).toBe(false);
  }, 120_000);

  it('a volunteer that keeps stalling loses slots, and gets them back as it answers (V11)', async () => {
    const clock = new ManualClock();
    const s = await rig.start(
      { leaseCheckMs: 60_000, deadlineCheckMs: 60_000, leaseMs: 5000, maxInFlight: 1, maxInFlightCap: 8 },
      { clock },
    );
    const staller = await fake(s.url, 'staller', { behaviour: 'no-heartbeat', slots: 4 });
    expect(staller.hello?.maxInFlight).toBe(4);
    const photos = sampleImages().map((i) => i.name);
    await s.createJob([...photos, ...photos].slice(0, 8));
    const holding = () => staller.held.size;
    const ackedAll = async (n: number) => {
      await until(() => staller.assigned.length >= n, 5000, `${n} offers`);
      await until(
        () =>
          staller.assigned
            .slice(0, n)
            .every((a) => s.store.getAssignment(a.assignmentId)?.status !== 'offered'),
        5000,
        'acks stored',
      );
    };
    await ackedAll(4);
    expect(holding()).toBe(4);
    // All four lapse: the limit is halved per stall down to one task.
    clock.advance(5001);
    s.scheduler.checkLeases();
    await ackedAll(5);
    await new Promise((r) => setTimeout(r, 300));
    expect(staller.assigned.length).toBe(5);
    expect(holding()).toBe(1);
    expect(await metric(s, 'tabgrid_volunteer_stalls_total', '')).toBe(4);
    // It answers (and now heartbeats and holds what it gets): each result undoes one halving.
    staller.behaviour = 'ack-then-silent';
    await staller.answer(staller.assigned[4]!, []);
    await ackedAll(7);
    await new Promise((r) => setTimeout(r, 300));
    expect(staller.assigned.length).toBe(7);
    expect(holding()).toBe(2);
    await staller.answer(staller.assigned[5]!, []);
    await staller.answer(staller.assigned[6]!, []);
    await until(() => holding() === 4, 5000, 'back to four tasks');
  }, 120_000);

  it('a volunteer that declines more than a fifth of its tasks loses slots (V11, second reason)', async () => {
    const s = await rig.start({ ...CHECKING, maxInFlight: 1, maxInFlightCap: 8 });
    const decliner = await fake(s.url, 'decliner', { behaviour: 'inference-failed', slots: 4 });
    expect(decliner.hello?.maxInFlight).toBe(4);
    const photos = sampleImages().map((i) => i.name);
    await s.createJob([...photos, ...photos]);
    await until(() => decliner.reported.length >= 12, 30_000, '12 declines');
    // Every one of its latest outcomes is a decline: its limit is down to one task, kept for its
    // identity (announced when it connects again).
    decliner.close();
    const again = await fake(s.url, 'decliner', { behaviour: 'ack-then-silent', slots: 4 });
    expect(again.volunteerId).toBe(decliner.volunteerId);
    expect(again.hello?.maxInFlight).toBe(1);
    await until(() => again.held.size >= 1, 10_000, 'an offer');
    await new Promise((r) => setTimeout(r, 300));
    expect(again.held.size).toBe(1);
  }, 60_000);
});
