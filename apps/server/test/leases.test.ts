import { afterEach, describe, expect, it } from 'vitest';
import { volunteerPool } from './support/fake-volunteer';
import { sleep, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);
const join = pool.join;

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

describe('leases (PROTOCOL.md T1-T6)', () => {
  it('re-assigns the task of a volunteer that disconnects mid-task, at once', async () => {
    server = await startTestServer();
    const quitter = await join('v-quitter', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['bus.jpg']);
    await until(() => quitter.assigned.length === 1, 5000, 'first assignment');
    const helper = await join('v-helper', { behaviour: 'ack-then-silent' });
    expect(helper.assigned).toHaveLength(0);
    const t0 = Date.now();
    quitter.close();
    await until(() => helper.assigned.length === 1, 5000, 're-assignment');
    expect(Date.now() - t0).toBeLessThan(1000); // not waiting for the lease to lapse (10 s)
    helper.behaviour = 'honest';
    await helper.answer(helper.assigned[0]!);
    const done = await server.waitForJob(job.id);
    expect(done.tasks[0]).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('re-queues an assignment that is not acknowledged within the ack timeout', async () => {
    server = await startTestServer({ ackTimeoutMs: 300 });
    const mute = await join('v-mute', { behaviour: 'no-ack' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => mute.assigned.length === 1, 5000, 'offer');
    await until(() => server.store.counts().queued === 1, 5000, 'requeue after the ack timeout');
    mute.behaviour = 'honest';
    // It gets nothing more until it shows signs of life; then it gets the task again and answers.
    await mute.socket.timeout(2000).emitWithAck('volunteer:state', { accepting: true });
    const done = await server.waitForJob(job.id, 5000);
    expect(done.tasks[0]!.attempts).toBe(2);
  });

  it('stops offering to a volunteer that missed an ack until it shows signs of life', async () => {
    server = await startTestServer({ ackTimeoutMs: 100, leaseCheckMs: 20 });
    const dead = await join('v-dead', { behaviour: 'no-ack' });
    const job = await server.createJob(['dog.jpg']);
    await sleep(1000); // ~10 ack timeouts
    expect(dead.assigned).toHaveLength(1);
    expect((await server.getJob(job.id)).tasks[0]).toMatchObject({ status: 'queued', attempts: 1 });
    dead.behaviour = 'honest';
    await dead.socket.timeout(2000).emitWithAck('volunteer:state', { accepting: true });
    expect((await server.waitForJob(job.id, 5000)).tasks[0]!.attempts).toBe(2);
  });

  it('re-issues the task of a volunteer that acks and then stops heartbeating', async () => {
    server = await startTestServer({ leaseMs: 400, leaseCheckMs: 50 });
    const stalled = await join('v-stalled', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['person.jpg']);
    await until(() => stalled.assigned.length === 1, 5000, 'assignment');
    const t0 = Date.now();
    const backup = await join('v-backup');
    const done = await server.waitForJob(job.id, 5000);
    expect(done.tasks[0]!.attempts).toBe(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(backup.results).toHaveLength(1);
    expect(stalled.cancelled).toContain(stalled.assigned[0]!.assignmentId);
  });

  it('keeps a lease alive while the volunteer heartbeats', async () => {
    server = await startTestServer({ leaseMs: 300, leaseCheckMs: 50 });
    const slow = await join('v-slow', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => slow.assigned.length === 1, 5000, 'assignment');
    await sleep(1000); // > 3 lease periods
    expect(slow.cancelled).toHaveLength(0);
    expect(server.store.counts().running).toBe(1);
    await slow.answer(slow.assigned[0]!);
    expect((await server.waitForJob(job.id)).tasks[0]!.attempts).toBe(1);
  });

  it('does not lapse leases because the server itself stalled', async () => {
    server = await startTestServer({ leaseMs: 400, leaseCheckMs: 50 });
    const v = await join('v-patient', { behaviour: 'ack-then-silent' });
    await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    await sleep(100);
    const end = Date.now() + 1500; // block the event loop for 3+ lease periods
    while (Date.now() < end) {
      /* busy */
    }
    await sleep(300);
    expect(v.cancelled).toHaveLength(0);
    expect(server.store.counts()).toMatchObject({ running: 1, queued: 0 });
  });

  it('accepts a late result that arrives before the task completes, and cancels the newer lease', async () => {
    server = await startTestServer({ leaseMs: 300, leaseCheckMs: 50 });
    const late = await join('v-late', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => late.assigned.length === 1, 5000, 'assignment');
    const second = await join('v-second', { behaviour: 'ack-then-silent' });
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
    server = await startTestServer();
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
    expect(server.store.counts().done).toBe(1);
  });

  it('retries an undecodable image elsewhere, then fails it with that reason', async () => {
    server = await startTestServer({ maxFailureReports: 3 });
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
    server = await startTestServer({ leaseMs: 150, leaseCheckMs: 20, maxAttempts: 3 });
    await join('v-never', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 3,
      error: { code: 'attempts_exhausted' },
    });
  });

  it('fails a queued task that nobody ran before its deadline', async () => {
    server = await startTestServer({ taskDeadlineMs: 200, deadlineCheckMs: 50 });
    const job = await server.createJob(['dog.jpg']);
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 0,
      error: { code: 'deadline_exceeded' },
    });
  });

  it('fails a running task whose lease ends after its deadline instead of requeueing it', async () => {
    server = await startTestServer({ taskDeadlineMs: 300, leaseMs: 400, leaseCheckMs: 50 });
    const v = await join('v-deadline', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => v.assigned.length === 1, 5000, 'assignment');
    const failed = await server.waitForJob(job.id, 5000);
    expect(failed.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'deadline_exceeded' },
    });
  });

  it('hands leases back on graceful shutdown', async () => {
    server = await startTestServer();
    const v = await join('v-shutdown', { behaviour: 'ack-then-silent' });
    await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    const dataDir = server.dataDir;
    await server.close();
    server = await startTestServer({ dataDir });
    expect(server.recovered.lapsed).toBe(0); // nothing was left live: it was handed back
    expect(server.store.counts()).toMatchObject({ queued: 1, running: 0 });
  });
});
