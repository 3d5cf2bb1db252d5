/**
 * The scheduling core's correctness fixes (issue 16, "Fix on the way"), each on a real server with
 * scripted volunteers over real Socket.IO and the real SQLite store (faults injected by wrapping
 * it, as the fault suite does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Detection, TaskAssignment } from '@tabgrid/protocol';
import type { ServerConfig } from '../src/config';
import type { SchedulingStore } from '../src/store/scheduling-store';
import { volunteerPool } from './support/fake-volunteer';
import { StoreFaults, sqliteError } from './support/faulty-store';
import { sleep, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer | undefined;
const pool = volunteerPool(() => server!.url);

afterEach(async () => {
  pool.closeAll();
  await server?.close();
  server = undefined;
});

/** Verification on, canaries off, one task per volunteer at a time. */
const VERIFYING: Partial<ServerConfig> = {
  verification: true,
  distinctNetworks: false,
  canaryPercent: 0,
  maxInFlight: 1,
};

/** A plausible result that disagrees with `defaultDetections`. */
const otherDetections = (t: TaskAssignment): Detection[] => [
  { label: 'car', score: 0.8, box: [0, 0, Math.min(20, t.width), Math.min(20, t.height)] },
];

const taskOf = (s: TestServer, jobId: string) => s.getJob(jobId).then((j) => j.tasks[0]!);

describe('the scheduling core: decide first, act after the commit', () => {
  it('a result whose store write failed is judged again from the same state when resent (fix 1)', async () => {
    const faults = new StoreFaults();
    server = await startTestServer({ ...VERIFYING, refereeAfterMs: 60_000 }, { wrapStore: faults.wrap });
    const job = await server.createJob(['dog.jpg']);
    const a = await pool.join('v-a');
    await until(() => a.results.length === 1, 10_000, "a's result");
    a.close();
    // The replica: its first write fails after verification has seen it.
    faults.failNext('complete', new Error('write failed'));
    const b = await pool.join('v-b', { behaviour: 'ack-then-silent' });
    const task = await until(() => b.assigned[0], 10_000, 'the replica offered');
    expect(await b.answer(task)).toMatchObject({ ok: false, code: 'internal' });
    expect(await b.answer(task)).toMatchObject({ ok: true, data: { accepted: true } });
    // The resent result agrees with a's, which still waited: the task is settled by the two.
    expect(await taskOf(server, job.id)).toMatchObject({
      status: 'done',
      verification: 'replicated',
      agreeing: 2,
    });
  });

  it('a stored result whose backtracking throws is still acked as accepted and announced (fix 2)', async () => {
    const faults = new StoreFaults();
    server = await startTestServer(
      { ...VERIFYING, refereeAfterMs: 60_000 },
      { wrapStore: faults.wrap, refereeModel: '/nonexistent/referee-model.onnx' },
    );
    const job = await server.createJob(['dog.jpg']);
    const liar = await pool.join('v-liar', { detections: otherDetections });
    await until(() => liar.results.length === 1, 10_000, "the liar's result");
    liar.close();
    const b = await pool.join('v-b');
    await until(() => b.results.length === 1, 10_000, "b's result");
    b.close();
    // c's result agrees with b's: the liar is caught, and its backtracking throws.
    faults.failNext('publishedResultsOf', new Error('backtracking failed'));
    const c = await pool.join('v-c');
    await until(() => c.results.length === 1, 10_000, "c's result");
    expect(c.results[0]!.ack).toMatchObject({ ok: true, data: { accepted: true, duplicate: false } });
    expect(faults.thrown.map((t) => t.method)).toContain('publishedResultsOf');
    expect(await taskOf(server, job.id)).toMatchObject({ status: 'done', agreeing: 2 });
  });

  it('a volunteer back during an outage keeps the leases it gets afterwards (fix 3)', async () => {
    server = await startTestServer({ healthCheckMs: 60_000, maxInFlight: 1 });
    await server.createJob(['dog.jpg']);
    const first = await pool.join('v-back', { behaviour: 'ack-then-silent' });
    await until(() => first.held.size === 1, 10_000, 'the first task held');
    await server.createJob(['bus.jpg']); // queued: the volunteer holds all it may
    server.health.markFailed('database', sqliteError('SQLITE_BUSY'));
    first.close(); // its release must wait for the database
    await sleep(250);
    const again = await pool.join('v-back', { behaviour: 'ack-then-silent' });
    // The database is back: the volunteer gets the queued task.
    await until(async () => (await fetch(`${server!.url}/healthz`)).status === 200, 5000, 'healthy');
    const offered = await until(() => again.assigned[0], 10_000, 'the new offer');
    await sleep(600); // the departed connection's release had every chance to run
    // Every lease it got since it is back is still its own (before the fix, the old release ended
    // them without telling it, when it ran after the first new offer was sent).
    const statuses = again.assigned.map((t) => server!.store.getAssignment(t.assignmentId)?.status);
    expect(statuses).toEqual(again.assigned.map(() => 'acked'));
    expect(offered).toBeDefined();
    expect(again.cancelled).toEqual([]);
  });

  it('results the referee gave up on no longer count toward the cap of unverified work (fix 4)', async () => {
    server = await startTestServer(
      { ...VERIFYING, refereeAfterMs: 50, refereeMaxFailures: 1 },
      { refereeModel: '/nonexistent/referee-model.onnx' },
    );
    const job = await server.createJob(['dog.jpg', 'bus.jpg', 'person.jpg', '000139.jpg']);
    const p = await pool.join('v-probation');
    // Three results wait for replicas nobody sends and the referee gave up on: before the fix they
    // counted for good (maxUnverified 3) and the volunteer got no fourth task.
    await until(() => p.results.length === 4, 15_000, 'a fourth task for the volunteer on probation');
    expect((await server.getJob(job.id)).tasks).toHaveLength(4);
  });

  it('a throw in the lease sweep goes to the error sink, not out of the timer (fix 6)', async () => {
    let lie = false;
    const wrap = (store: SchedulingStore): SchedulingStore =>
      new Proxy(store, {
        get: (target, prop) => {
          const value: unknown = Reflect.get(target, prop, target);
          if (prop !== 'lapseExpired' || typeof value !== 'function') return value;
          // A store that answers nonsense once: the sweep must survive it.
          return (...args: unknown[]) => (lie ? ((lie = false), [null]) : value.apply(target, args));
        },
      });
    server = await startTestServer({}, { wrapStore: wrap });
    lie = true;
    expect(() => server!.scheduler.checkLeases()).not.toThrow();
    expect(lie).toBe(false);
  });
});
