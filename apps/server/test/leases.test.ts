/**
 * Leases on an explicit clock (issue 11): the scheduler reads lease expiry
 * and deadlines from a ManualClock, the timer-driven checks are pushed out of
 * the way (`leaseCheckMs`/`deadlineCheckMs` of a minute), and each test
 * advances the clock and runs `checkLeases()` / `checkDeadlines()` itself.
 * What used to be a wall-clock sleep is now a step the test takes, so the
 * outcome does not depend on the machine's load. Only the ack timeout (a
 * network timer from the emit) is still real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../src/config';
import { volunteerPool, type FakeVolunteer } from './support/fake-volunteer';
import { startTestServer, until, type TestServer } from './support/harness';
import { ManualClock } from './support/manual-clock';

let server: TestServer;
let clock: ManualClock;
const pool = volunteerPool(() => server.url);
const join = pool.join;

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

/** Only explicit checks: the periodic ones would run on the same clock, at times the test does not choose. */
const EXPLICIT = { leaseCheckMs: 60_000, deadlineCheckMs: 60_000 } satisfies Partial<ServerConfig>;

async function start(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  clock = new ManualClock();
  server = await startTestServer({ ...EXPLICIT, ...overrides }, { clock });
  return server;
}

/** Resolves once the volunteer's latest assignment is acknowledged in the store (its lease runs leaseMs). */
async function acked(v: FakeVolunteer, count = 1): Promise<string> {
  await until(() => v.assigned.length >= count, 5000, `assignment #${count}`);
  const id = v.assigned[count - 1]!.assignmentId;
  await until(() => server.store.getAssignment(id)?.status === 'acked', 5000, `ack of #${count}`);
  return id;
}

/** Moves the clock and runs one lease check. */
function advanceAndCheck(ms: number): void {
  clock.advance(ms);
  server.scheduler.checkLeases();
}

describe('leases (PROTOCOL.md T1-T6), on an explicit clock', () => {
  it('re-assigns the task of a volunteer that disconnects mid-task, at once (the clock never moves)', async () => {
    await start();
    const quitter = await join('v-quitter', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['bus.jpg']);
    await acked(quitter);
    const helper = await join('v-helper', { behaviour: 'ack-then-silent' });
    expect(helper.assigned).toHaveLength(0);
    quitter.close();
    // No lease can have lapsed (time stands still): only the disconnect hands the task over.
    await until(() => helper.assigned.length === 1, 5000, 're-assignment');
    helper.behaviour = 'honest';
    await helper.answer(helper.assigned[0]!);
    const done = await server.waitForJob(job.id);
    expect(done.tasks[0]).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('re-queues an assignment that is not acknowledged within the ack timeout', async () => {
    await start({ ackTimeoutMs: 300 });
    const mute = await join('v-mute', { behaviour: 'no-ack' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => mute.assigned.length === 1, 5000, 'offer');
    // The offer's backstop lease cannot lapse on a frozen clock: this is the ack timer.
    await until(
      async () => (await server.store.counts()).queued === 1,
      5000,
      'requeue after the ack timeout',
    );
    mute.behaviour = 'honest';
    // It gets nothing more until it shows signs of life; then it gets the task again and answers.
    await mute.socket.timeout(2000).emitWithAck('volunteer:state', { accepting: true });
    const done = await server.waitForJob(job.id, 5000);
    expect(done.tasks[0]!.attempts).toBe(2);
  });

  it('stops offering to a volunteer that missed an ack until it shows signs of life', async () => {
    await start({ ackTimeoutMs: 100 });
    const dead = await join('v-dead', { behaviour: 'no-ack' });
    const job = await server.createJob(['dog.jpg']);
    await until(
      async () => (await server.store.counts()).queued === 1,
      5000,
      'requeue after the ack timeout',
    );
    // Dispatch is synchronous: had the volunteer still been eligible, these would assign the task.
    for (let i = 0; i < 10; i++) server.scheduler.pump();
    expect(dead.assigned).toHaveLength(1);
    expect((await server.getJob(job.id)).tasks[0]).toMatchObject({ status: 'queued', attempts: 1 });
    dead.behaviour = 'honest';
    await dead.socket.timeout(2000).emitWithAck('volunteer:state', { accepting: true });
    expect((await server.waitForJob(job.id, 5000)).tasks[0]!.attempts).toBe(2);
  });

  it('re-issues the task of a volunteer that acks and then stops heartbeating, exactly at lease expiry', async () => {
    const leaseMs = 400;
    await start({ leaseMs });
    const stalled = await join('v-stalled', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['person.jpg']);
    const first = await acked(stalled);
    const backup = await join('v-backup');
    const expiresAt = server.store.getAssignment(first)!.leaseExpiresAt;
    advanceAndCheck(expiresAt - clock.now()); // at expiry, not past it: still held
    expect(await server.store.counts()).toMatchObject({ running: 1, queued: 0 });
    expect(backup.assigned).toHaveLength(0);
    advanceAndCheck(1); // past it: lapsed, re-issued
    const done = await server.waitForJob(job.id, 5000);
    expect(done.tasks[0]!.attempts).toBe(2);
    expect(backup.results).toHaveLength(1);
    await until(() => stalled.cancelled.includes(first), 5000, 'task:cancel to the stalled volunteer');
  });

  it('keeps a lease alive while the volunteer heartbeats, over several lease periods', async () => {
    const leaseMs = 200; // heartbeats every 100 ms of real time
    await start({ leaseMs });
    const slow = await join('v-slow', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['dog.jpg']);
    const id = await acked(slow);
    for (let period = 0; period < 4; period++) {
      clock.advance(leaseMs * 0.75);
      // The next heartbeat renews the lease from the new time.
      await until(
        () => server.store.getAssignment(id)!.leaseExpiresAt === clock.now() + leaseMs,
        5000,
        'renewal',
      );
      server.scheduler.checkLeases();
      expect(server.store.getAssignment(id)!.status).toBe('acked');
    }
    expect(slow.cancelled).toHaveLength(0);
    expect((await server.store.counts()).running).toBe(1);
    await slow.answer(slow.assigned[0]!);
    expect((await server.waitForJob(job.id)).tasks[0]!.attempts).toBe(1);
  });

  it('caps an assignment at maxAssignmentMs even while heartbeats arrive, then runs the task elsewhere', async () => {
    const leaseMs = 200; // heartbeats every 100 ms of real time
    await start({ leaseMs, maxAssignmentMs: 500 });
    const staller = await join('v-staller', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['dog.jpg']);
    const id = await acked(staller);
    const assignedAt = server.store.getAssignment(id)!.assignedAt;
    // Heartbeats keep renewing, but never past assignedAt + 500.
    clock.advance(400);
    await until(
      () => server.store.getAssignment(id)!.leaseExpiresAt === assignedAt + 500,
      5000,
      'renewal up to the cap',
    );
    advanceAndCheck(101);
    expect(server.store.getAssignment(id)).toMatchObject({ status: 'lapsed', outcome: 'lease_expired' });
    await until(() => staller.cancelled.includes(id), 5000, 'task:cancel to the staller');
    staller.close(); // (it would take the requeued task again and stall on it)
    const honest = await join('v-honest');
    const done = await server.waitForJob(job.id);
    expect(done.tasks[0]!.status).toBe('done');
    expect(done.tasks[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(honest.results).toHaveLength(1);
  });

  it('does not lapse leases because the server itself stalled', async () => {
    const leaseMs = 400;
    // Periodic checks on: stall detection measures real time between them.
    await start({ leaseMs, leaseCheckMs: 50 });
    const v = await join('v-patient', { behaviour: 'ack-then-silent' });
    await server.createJob(['dog.jpg']);
    const id = await acked(v);
    server.scheduler.checkLeases(); // a check on time, so the next one measures the stall from here
    // Block the event loop for 1 s (2.5 lease periods); the clock moves as far.
    const end = performance.now() + 1000;
    while (performance.now() < end) {
      /* busy */
    }
    clock.advance(1000);
    server.scheduler.checkLeases(); // sees the stall: extends live leases by it
    server.scheduler.checkLeases(); // a normal check right after: nothing has lapsed
    expect(server.store.getAssignment(id)!.status).toBe('acked');
    expect(v.cancelled).toHaveLength(0);
    expect(await server.store.counts()).toMatchObject({ running: 1, queued: 0 });
  });

  it('accepts a late result that arrives before the task completes, and cancels the newer lease', async () => {
    const leaseMs = 300;
    await start({ leaseMs });
    const late = await join('v-late', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    await acked(late);
    const second = await join('v-second', { behaviour: 'ack-then-silent' });
    advanceAndCheck(leaseMs + 1);
    await until(() => second.assigned.length === 1, 5000, 're-issue after lapse');
    const ack = await late.answer(late.assigned[0]!);
    expect(ack).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    await until(
      () => second.cancelled.includes(second.assigned[0]!.assignmentId),
      5000,
      'cancel to the newer lease',
    );
    const after = await second.answer(second.assigned[0]!);
    expect(after).toEqual({ ok: true, data: { accepted: false, duplicate: true } });
    const done = await server.getJob(job.id);
    expect(done.tasks[0]!.status).toBe('done');
  });

  it('treats result replays as duplicates: acknowledged, never double-counted', async () => {
    await start();
    const v = await join('v-replay', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['bus.jpg']);
    await until(() => v.assigned.length === 1, 5000, 'assignment');
    const task = v.assigned[0]!;
    const first = await v.answer(task);
    const replays = await Promise.all([1, 2, 3].map(() => v.answer(task, [])));
    expect(first).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    for (const r of replays) expect(r).toEqual({ ok: true, data: { accepted: false, duplicate: true } });
    const done = await server.getJob(job.id);
    expect(done.tasks[0]!.detections).toHaveLength(1); // the first result, not the empty replay
    expect((await server.store.counts()).done).toBe(1);
  });

  it('retries an undecodable image elsewhere, then fails it with that reason', async () => {
    await start({ maxFailureReports: 3 });
    const job = await server.createJob(['000148.jpg']);
    const vs = await Promise.all(
      ['v-u1', 'v-u2', 'v-u3'].map((id) => join(id, { behaviour: 'undecodable' })),
    );
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.status).toBe('failed');
    expect(failed.tasks[0]!.error?.code).toBe('undecodable');
    // each report came from a different volunteer
    expect(vs.map((v) => v.assigned.length)).toEqual([1, 1, 1]);
  });

  it('fails a task after maxAttempts assignments', async () => {
    const leaseMs = 150;
    await start({ leaseMs, maxAttempts: 3 });
    const v = await join('v-never', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await acked(v, attempt);
      advanceAndCheck(leaseMs + 1);
    }
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 3,
      error: { code: 'attempts_exhausted' },
    });
  });

  it('fails a queued task that nobody ran before its deadline (and not a moment before)', async () => {
    const taskDeadlineMs = 200;
    await start({ taskDeadlineMs });
    const job = await server.createJob(['dog.jpg']);
    clock.advance(taskDeadlineMs);
    server.scheduler.checkDeadlines();
    expect((await server.getJob(job.id)).tasks[0]!.status).toBe('queued');
    clock.advance(1);
    server.scheduler.checkDeadlines();
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 0,
      error: { code: 'deadline_exceeded' },
    });
  });

  it('fails a running task whose lease ends after its deadline instead of requeueing it', async () => {
    await start({ taskDeadlineMs: 300, leaseMs: 400 });
    const v = await join('v-deadline', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    await acked(v);
    advanceAndCheck(401);
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'deadline_exceeded' },
    });
  });

  it('hands leases back on graceful shutdown', async () => {
    await start();
    const v = await join('v-shutdown', { behaviour: 'ack-then-silent' });
    await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    const dataDir = server.dataDir;
    await server.close();
    server = await startTestServer({ dataDir });
    expect(server.recovered.lapsed).toBe(0); // nothing was left live: it was handed back
    expect(await server.store.counts()).toMatchObject({ queued: 1, running: 0 });
  });
});
