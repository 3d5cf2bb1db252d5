/**
 * Cancelling a job in Redis mode reaches every gateway (issue 10): a job deleted through gateway 1
 * while gateways 2 and 3 hold its tasks (cached, and leased to their volunteers) ends there at once:
 * the volunteers get `task:cancel`, no gateway offers the job again, its entries leave the stream,
 * and the counts are those of one cancel. Real redis-server, three in-process gateways with real
 * Socket.IO volunteers. Then the store alone: a gateway that missed the pub/sub message finds the
 * deletion by its periodic check and drops the tasks all the same.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobDeletedSchema } from '@tabgrid/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../src/redis/connection';
import { openRedisScheduling, REDIS_SCHEDULING_KEYS as K } from '../src/store/redis';
import type { CancelledHere, RedisSchedulingStore } from '../src/store/redis/redis-scheduling-store';
import { POLICY, tasks } from './contracts/scheduling-store';
import { FakeVolunteer } from './support/fake-volunteer';
import { bearer, startTestServer, until, type TestServer } from './support/harness';
import { startRedis, type TestRedis } from './support/redis';

let redis: TestRedis;
let admin: Redis;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await admin.flushall();
});

const PHOTOS = ['000004.jpg', '000139.jpg', '000148.jpg', '000181.jpg', '000230.jpg', 'person.jpg'];
/** More than the two volunteers' gateways claim at first (2 × 9 × 1 volunteer each = 36). */
const photos = (n: number) => Array.from({ length: n }, (_, i) => PHOTOS[i % PHOTOS.length]!);

const schedulingOf = (server: TestServer) => server.store as unknown as RedisSchedulingStore;

/** Stream entries (not yet acknowledged and deleted) of one job. */
async function entriesOf(jobId: string): Promise<number> {
  const entries = await admin.xrange(K.stream, '-', '+');
  return entries.filter(([, fields]) => fields[1] === jobId).length;
}

describe('a job cancelled on gateway 1 while gateways 2 and 3 hold its tasks', () => {
  it('ends the leases there, offers the job nowhere again, and counts one cancel', async () => {
    const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-blobs-'));
    const gateways: TestServer[] = [];
    for (let i = 0; i < 3; i++) {
      gateways.push(await startTestServer({ redisUrl: redis.url, blobDir, gatewayId: `gw-cancel-${i + 1}` }));
      cleanups.push(() => gateways[i]!.close());
    }
    const [g1, g2, g3] = gateways as [TestServer, TestServer, TestServer];
    // Volunteers only on gateways 2 and 3 (gateway 1 has no demand: it claims nothing).
    const volunteers = await Promise.all(
      [g2, g3].map((g, i) =>
        FakeVolunteer.connect(g.url, { id: `holder-${i + 2}`, behaviour: 'ack-then-silent', slots: 2 }),
      ),
    );
    cleanups.push(() => volunteers.forEach((v) => v.close()));
    const [v2, v3] = volunteers as [FakeVolunteer, FakeVolunteer];

    const job = await g1.createJob(photos(40));
    await until(() => v2.held.size > 0 && v3.held.size > 0, 10_000, 'tasks held on gateways 2 and 3');
    await until(
      () => schedulingOf(g2).queuedCount > 0 && schedulingOf(g3).queuedCount > 0,
      10_000,
      'tasks queued in the caches of gateways 2 and 3',
    );
    expect(schedulingOf(g1).unfinishedCount).toBe(0);
    const held = { g2: [...v2.held], g3: [...v3.held] };

    const res = await fetch(`${g1.url}/api/jobs/${job.id}`, { method: 'DELETE', headers: bearer() });
    expect(res.status).toBe(200);
    // Every task counted once, though none was cached on gateway 1.
    expect(JobDeletedSchema.parse(await res.json())).toMatchObject({ id: job.id, cancelled: 40 });

    // The volunteers on the other gateways are told, for every task they held.
    await until(
      () =>
        held.g2.every((id) => v2.cancelled.includes(id)) && held.g3.every((id) => v3.cancelled.includes(id)),
      10_000,
      'task:cancel on gateways 2 and 3',
    );
    // Their leases ended as in a local cancel, and their caches hold nothing of the job.
    for (const [g, ids] of [
      [g2, held.g2],
      [g3, held.g3],
    ] as const) {
      for (const id of ids)
        expect(schedulingOf(g).getAssignment(id)).toMatchObject({ status: 'released', outcome: 'cancelled' });
      expect(schedulingOf(g).unfinishedCount).toBe(0);
    }

    // The freed volunteers get the next job of the same owner, and never the cancelled one again.
    const offeredBefore = [v2, v3].map((v) => v.assigned.filter((a) => a.jobId === job.id).length);
    const next = await g1.createJob(photos(40));
    await until(
      () => v2.assigned.some((a) => a.jobId === next.id) && v3.assigned.some((a) => a.jobId === next.id),
      10_000,
      'the next job offered on gateways 2 and 3',
    );
    expect([v2, v3].map((v) => v.assigned.filter((a) => a.jobId === job.id).length)).toEqual(offeredBefore);

    // The job's entries leave the stream (the unclaimed ones are acked as final when claimed).
    await until(async () => (await entriesOf(job.id)) === 0, 10_000, "the job's entries to be acked");
    const view = await g3.getJob(job.id);
    expect(view.tasks.every((t) => t.status === 'failed' && t.error?.code === 'cancelled')).toBe(true);
    expect(await admin.hgetall(K.jobCounts(job.id))).toMatchObject({
      queued: '0',
      running: '0',
      failed: '40',
    });
    const all = await admin.hgetall(K.counts);
    expect(Number(all.failed)).toBe(40);
    expect(Number(all.queued) + Number(all.running)).toBe(40); // the next job's, nothing left of the first
    expect((await admin.hgetall(K.jobCounts(next.id))).failed ?? '0').toBe('0');
  });
});

describe('a gateway that missed the cancel message', () => {
  it('finds the deletion by its periodic check, fails the tasks it held and ends their leases', async () => {
    const conn = connectRedis(redis.url, 'cancel-test');
    cleanups.push(() => conn.disconnect());
    const { store } = await openRedisScheduling(conn, POLICY, {
      gatewayId: 'gw-missed',
      blockMs: 100,
      cancelCheckEveryMs: 200,
    });
    cleanups.push(() => store.close(true));
    const ended: CancelledHere[] = [];
    store.onJobCancelled((e) => ended.push(e));
    const now = Date.now();
    const job = await store.createJob(tasks(3), now);
    const other = await store.createJob(tasks(1), now);
    await store.settle();
    const leased = store.assignNext('v1', now, 1000)!;
    expect(leased.task.jobId).toBe(job.id);

    // Deleted elsewhere, and the message never came (as if its gateway died before publishing).
    await admin.hset(K.job(job.id), 'deletedAt', now);
    await until(() => ended.length === 1, 10_000, 'the periodic check');
    expect(ended[0]!.tasks.map((t) => [t.jobId, t.status, t.errorCode])).toEqual(
      Array.from({ length: 3 }, () => [job.id, 'failed', 'cancelled']),
    );
    expect(ended[0]!.leases.map((a) => [a.id, a.status, a.outcome])).toEqual([
      [leased.assignment.id, 'released', 'cancelled'],
    ]);
    expect(store.queuedCount).toBe(1); // the other job's task stays
    await store.settle();
    const view = await store.getJob(job.id);
    expect(view!.tasks.map((t) => t.status)).toEqual(['failed', 'failed', 'failed']);
    expect((await store.getJob(other.id))!.tasks[0]!.status).toBe('queued');
    expect(await admin.hgetall(K.jobCounts(job.id))).toMatchObject({
      queued: '0',
      running: '0',
      failed: '3',
    });
    await until(async () => (await entriesOf(job.id)) === 0, 10_000, "the job's entries to be acked");
  });
});
