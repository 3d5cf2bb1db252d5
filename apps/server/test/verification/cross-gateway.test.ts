/**
 * Backtracking across gateways (PROTOCOL.md rule V7, issue 10): two gateways on one real Redis,
 * each with a real in-process agent (onnxruntime-node over real Socket.IO), and a scripted
 * turncoat (a real Socket.IO peer). The turncoat earns trust and lies on gateway 1, whose results
 * go final on trust alone; then it moves to gateway 2 with the same identity and is caught there
 * by a spot check. Gateway 2 holds none of those lies in memory: it must find them through the
 * shared index and reopen them, so the victim job on gateway 1 ends with every result right.
 * Every other result it published (replicated or refereed in its honest phase) is reopened too,
 * and it keeps no credit in the shared ledger (issue 17 C).
 */
import { Redis } from 'ioredis';
import type { Detection, JobView, TaskAssignment } from '@tabgrid/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/src/agent';
import { startHonestAgent } from '../support/honest-agent';
import { sampleImages } from '../../../../scripts/assets';
import type { ServerConfig } from '../../src/config';
import { agree } from '../../src/verification/agreement';
import { referenceDetections } from '../faults/batch';
import { FakeVolunteer, issuedIdentity } from '../support/fake-volunteer';
import { startTestServer, until, type TestServer } from '../support/harness';
import { tmpDir } from '../support/processes';
import { startRedis, type TestRedis } from '../support/redis';
import { KEYS } from '../../src/store/redis/keys';
import { decodeTask } from '../../src/store/redis/stored-task';

const photos = sampleImages().map((i) => i.name);
let reference = new Map<string, Detection[]>();
let redis: TestRedis;

beforeAll(async () => {
  reference = await referenceDetections();
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  await redis?.stop();
});

const servers: TestServer[] = [];
const agents: Agent[] = [];
const fakes: FakeVolunteer[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) f.close();
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  for (const s of servers.splice(0)) await s.close();
});

const honestAgent = (url: string): Promise<Agent> => startHonestAgent(url, agents);

const wrongTask = (t: JobView['tasks'][number]) =>
  t.status === 'done' && !agree(t.detections, reference.get(t.name) ?? []);

/** The done tasks of these jobs in Redis whose published result is one of `assignments`. */
async function publishedFrom(url: string, jobIds: string[], assignments: Set<string>): Promise<string[]> {
  const redis = new Redis(url);
  try {
    const tasks = (await Promise.all(jobIds.map((j) => redis.hvals(KEYS.tasks(j))))).flat().map(decodeTask);
    return tasks
      .filter((t) => t.status === 'done' && assignments.has(t.resultAssignmentId ?? ''))
      .map((t) => t.id);
  } finally {
    redis.disconnect();
  }
}

describe('verification across gateways', () => {
  it('a turncoat caught on gateway 2 has every result it published on gateway 1 reopened and redone, and keeps 0 credits', async () => {
    let spotCheck = false;
    const blobDir = tmpDir('tabgrid-xgw-blobs-');
    const config: Partial<ServerConfig> = {
      verification: true,
      refereeAfterMs: 400,
      refereeBudget: 50,
      distinctNetworks: false,
      trustStreak: 2,
      // Spot checks only when the test says so (the random seam below); no canaries, which could
      // catch the turncoat on gateway 1 before it moves.
      spotCheckPercent: 0,
      canaryPercent: 0,
      redisUrl: `${redis.url}/1`,
      blobDir,
    };
    const seams = { random: () => (spotCheck ? 0 : 0.999) };
    const g1 = await startTestServer(config, seams);
    servers.push(g1);
    const g2 = await startTestServer(config, seams);
    servers.push(g2);

    let lying = false;
    const answer = (t: TaskAssignment): Detection[] =>
      lying ? [{ label: 'dog', score: 0.9, box: [1, 1, 40, 40] }] : (reference.get(t.name) ?? []);
    const onG1 = await FakeVolunteer.connect(g1.url, { id: 'turncoat', detections: answer, slots: 2 });
    fakes.push(onG1);
    await honestAgent(g1.url);

    // Honest phase on gateway 1: agreements with the honest agent make the turncoat trusted.
    const warmup = await g1.createJob([...photos, ...photos]);
    await g1.waitForJob(warmup.id, 90_000);
    const honestPhase = new Set(onG1.results.map((r) => r.assignmentId));
    // Verified (not trusted: trust came later) and published as its own.
    const verifiedOwn = await publishedFrom(config.redisUrl!, [warmup.id], honestPhase);
    expect(verifiedOwn.length).toBeGreaterThan(0);

    // Lying on trust, on gateway 1: its results are final at once.
    lying = true;
    const lyingFrom = onG1.results.length;
    const victim = await g1.createJob([...photos, ...photos]);
    const once = await g1.waitForJob(victim.id, 90_000);
    expect(onG1.results.length).toBeGreaterThan(lyingFrom);
    const lies = once.tasks.filter(wrongTask).map((t) => t.id);
    expect(lies.length).toBeGreaterThan(0);

    // It moves to gateway 2 with the same identity, where a spot check catches it. Gateway 1's
    // agent leaves too, so gateway 1 claims no more work: the check runs on gateway 2.
    onG1.close();
    await agents.shift()!.stop();
    const onG2 = await FakeVolunteer.connect(g2.url, {
      id: 'turncoat-moved',
      credentials: issuedIdentity(g1.url, 'turncoat')!,
      detections: answer,
      slots: 2,
    });
    fakes.push(onG2);
    expect(onG2.volunteerId).toBe(onG1.volunteerId);
    await honestAgent(g2.url);
    spotCheck = true;
    const check = await g2.createJob(photos.slice(0, 3));
    await g2.waitForJob(check.id, 60_000);
    expect(onG2.results.length).toBeGreaterThan(0);

    // Gateway 2 backtracks through Redis: the victim job, on either gateway, is revised.
    await until(
      async () => (await g1.getJob(victim.id)).tasks.every((t) => t.status === 'done' && !wrongTask(t)),
      60_000,
      'victim job revised',
    );
    for (const g of [g1, g2]) {
      const revised = await g.getJob(victim.id);
      expect(revised.status).toBe('done');
      expect(revised.tasks.filter(wrongTask)).toEqual([]);
      for (const id of lies) expect(revised.tasks.find((t) => t.id === id)!.verification).not.toBe('trusted');
    }

    // Its verified results of the honest phase were reopened and redone by others too, and it
    // keeps no credit, granted or pending, in the ledger both gateways share.
    const its = new Set([...onG1.results, ...onG2.results].map((r) => r.assignmentId));
    const jobs = [warmup.id, victim.id, check.id];
    await until(
      async () =>
        (await Promise.all(jobs.map((j) => g1.getJob(j)))).every((j) => j.status === 'done') &&
        (await publishedFrom(config.redisUrl!, jobs, its)).length === 0,
      60_000,
      'its verified results redone',
    );
    await Promise.all([g1.credits.idle(), g2.credits.idle()]);
    const ledger = g2.credits.ledger;
    const totals = await ledger.totals(onG1.volunteerId, Date.now());
    expect(totals.total.pending).toBe(0);
    expect(totals.total.granted).toBe(0);
    expect(totals.total.revoked).toBeGreaterThan(0);
    expect(totals).toEqual(await ledger.recompute(onG1.volunteerId, Date.now()));
  }, 240_000);
});
