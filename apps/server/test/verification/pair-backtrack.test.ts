/**
 * Issue 17 C, rule V7a: a replicated task publishes the mean of its agreeing pair, so a liar caught
 * later is backtracked from every such task it was in, also as the pair's first member (the result
 * that waited; the record names the volunteer that completed the pair). Real server, no referee
 * (replicas settle every task), real Socket.IO volunteers scripted: the turncoat answers at once,
 * its partner later, so the turncoat is the pair's first member; then it sends an impossible
 * result and is quarantined at once (V6).
 */
import { describe, expect, it } from 'vitest';
import type { TaskAssignment } from '@tabgrid/protocol';
import { sampleImages } from '../../../../scripts/assets';
import type { ServerConfig } from '../../src/config';
import { FakeVolunteer } from '../support/fake-volunteer';
import { until, type TestServer } from '../support/harness';
import { readDb } from '../support/processes';
import { serverPerTest } from '../support/server-rig';

const photos = sampleImages().map((i) => i.name);
const rig = serverPerTest();

/** Verification on, never trusted (every result replicated), no referee, no canaries. */
const PAIRS: Partial<ServerConfig> = {
  verification: true,
  refereeWorkers: 0,
  distinctNetworks: false,
  canaryPercent: 0,
  trustStreak: 1000,
};

interface Row {
  task: string;
  result: string;
  by: string;
  agreeing: number;
}

/** The job's done tasks: the result each names, by whom, and how many agreed. */
const doneTasks = (s: TestServer, jobId: string) =>
  readDb(s.dataDir, (db) =>
    db
      .prepare(
        `SELECT t.id AS task, a.id AS result, a.volunteer_id AS by, t.agreeing FROM tasks t
           JOIN assignments a ON a.id = t.result_assignment_id
           WHERE t.job_id = ? AND t.status = 'done'`,
      )
      .all(jobId),
  ) as Row[];

/** This volunteer's completed results per task. */
const resultsOf = (s: TestServer, volunteerId: string) =>
  new Map(
    (
      readDb(s.dataDir, (db) =>
        db
          .prepare(`SELECT task_id, id FROM assignments WHERE volunteer_id = ? AND status = 'completed'`)
          .all(volunteerId),
      ) as { task_id: string; id: string }[]
    ).map((r) => [r.task_id, r.id]),
  );

async function volunteer(
  url: string,
  id: string,
  options: Partial<ConstructorParameters<typeof FakeVolunteer>[1]>,
) {
  const f = await FakeVolunteer.connect(url, { id, slots: 3, ...options });
  rig.fakes.push(f);
  return f;
}

describe('backtracking a pair (rule V7a)', () => {
  it('a turncoat caught as the first member of replicated pairs: those tasks are reopened and re-verified, its credit revoked', async () => {
    const s = await rig.start(PAIRS);
    let lying = false;
    const impossible = (t: TaskAssignment) => [
      { label: 'person', score: 0.9, box: [0, 0, t.width + 500, 10] as [number, number, number, number] },
    ];
    const turncoat = await volunteer(s.url, 'turncoat', {
      detections: (t) => (lying ? impossible(t) : [{ label: 'person', score: 0.9, box: [0, 0, 10, 10] }]),
      delayMs: 5,
    });
    const partner = await volunteer(s.url, 'partner', { delayMs: 400 });

    // Honest phase: every task a pair of these two; the partner, answering later, completes it.
    const job = await s.createJob(photos);
    expect((await s.waitForJob(job.id, 60_000)).status).toBe('done');
    const mine = resultsOf(s, turncoat.volunteerId);
    const before = doneTasks(s, job.id);
    const targets = before.filter((r) => r.by === partner.volunteerId && mine.has(r.task));
    console.log(
      `[pairs] tasks named for the partner with the turncoat first: ${targets.length} of ${before.length}`,
    );
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(t.agreeing, t.task).toBe(2);

    // A witness to redo them; then the turncoat lies, impossibly, and is quarantined at once.
    await volunteer(s.url, 'witness', { delayMs: 5 });
    lying = true;
    const check = await s.createJob(photos.slice(0, 2));
    await s.waitForJob(check.id, 60_000);
    await until(
      () => {
        const now = new Map(doneTasks(s, job.id).map((r) => [r.task, r]));
        return targets.every((t) => now.has(t.task) && now.get(t.task)!.result !== t.result);
      },
      30_000,
      'the pairs the turncoat was in reopened and verified again',
    );
    expect((await s.getJob(job.id)).status).toBe('done');
    const after = new Map(doneTasks(s, job.id).map((r) => [r.task, r]));
    for (const t of targets) {
      const redone = after.get(t.task)!;
      expect(redone.by, t.task).not.toBe(turncoat.volunteerId);
      expect(resultsOf(s, turncoat.volunteerId).get(t.task), t.task).toBe(mine.get(t.task)); // not rerun by it
    }

    // Its credit for those results is revoked as backtracked (not merely for the quarantine).
    await s.credits.idle();
    const events = await s.credits.ledger.events(turncoat.volunteerId);
    const revoked = new Map(
      events.filter((e) => e.state === 'revoked').map((e) => [e.assignmentId, e.reason]),
    );
    for (const t of targets) expect(revoked.get(mine.get(t.task)!), t.task).toBe('backtracked');
    const totals = await s.credits.ledger.totals(turncoat.volunteerId, Date.now());
    expect(totals.total.granted + totals.total.pending).toBe(0);
  }, 180_000);
});
