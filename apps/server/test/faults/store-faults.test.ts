/**
 * The real scheduler over the real SQLite store, with a wrapper that makes one
 * store method throw on demand, and real Socket.IO volunteers. For each store
 * method the scheduler calls in the background: the store throws, the server
 * keeps serving (an unhandled rejection would fail this file), the error is
 * counted in /metrics, and the task still completes (or fails for its own
 * reason), without losing its place in the queue.
 */
import { ApiErrorSchema, HealthSchema, NAMESPACES, PROTOCOL_VERSION } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config';
import { volunteerPool } from '../support/fake-volunteer';
import { sqliteError, StoreFaults, type StoreMethod } from '../support/faulty-store';
import { TEST_KEYS, bearer, readImage, startTestServer, until, type TestServer } from '../support/harness';

let server: TestServer;
let faults: StoreFaults;
const pool = volunteerPool(() => server.url);

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

/** A server whose store is wrapped; the health probe runs every 50 ms so the breaker closes quickly. */
async function start(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  faults = new StoreFaults();
  server = await startTestServer({ healthCheckMs: 50, ...overrides }, { wrapStore: faults.wrap });
  return server;
}

/** `tabgrid_background_errors_total` samples from /metrics, e.g. `{ 'scheduler.ack|dependency': 1 }`. */
async function backgroundErrors(): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: bearer() })).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(
    /^tabgrid_background_errors_total\{where="([^"]+)",kind="([^"]+)"\} (\d+)/gm,
  )) {
    counts[`${m[1]}|${m[2]}`] = Number(m[3]);
  }
  return counts;
}

/** The server still answers HTTP and is healthy again once the injected fault is past. */
async function expectServing(): Promise<void> {
  const health = await until(
    async () => {
      const res = await fetch(`${server.url}/healthz`);
      return res.status === 200 ? HealthSchema.parse(await res.json()) : null;
    },
    5000,
    'healthy again',
  );
  expect(health.status).toBe('ok');
}

function expectThrown(method: StoreMethod): void {
  expect(faults.thrown.map((t) => t.method)).toContain(method);
  expect(faults.armed).toBe(0);
}

describe('store faults under the real scheduler (issue 11)', () => {
  it('assignNext throws: the task stays queued and is dispatched once the breaker closes', async () => {
    await start();
    faults.failNext('assignNext');
    const v = await pool.join('v-assign');
    const job = await server.createJob(['dog.jpg']);
    const done = await server.waitForJob(job.id, 10_000);
    expect(done.tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(v.results).toHaveLength(1);
    expectThrown('assignNext');
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.assign|dependency': 1 });
    await expectServing();
  });

  it('ack throws after the volunteer acked: the ack write is retried and the task completes', async () => {
    await start();
    const v = await pool.join('v-ack', { behaviour: 'ack-then-silent' });
    faults.failNext('ack', sqliteError('SQLITE_FULL'));
    const job = await server.createJob(['bus.jpg']);
    await until(() => v.held.size === 1, 5000, 'offer acked by the volunteer');
    const assignmentId = v.assigned[0]!.assignmentId;
    await until(() => server.store.getAssignment(assignmentId)?.status === 'acked', 5000, 'ack retried');
    expectThrown('ack');
    expect(await v.answer(v.assigned[0]!)).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.ack|dependency': 1 });
    await expectServing();
  });

  it('release throws after an ack timeout: the release is retried and another volunteer completes the task', async () => {
    await start({ ackTimeoutMs: 200 });
    const mute = await pool.join('v-mute', { behaviour: 'no-ack' });
    faults.failNext('release');
    const job = await server.createJob(['dog.jpg']);
    await until(() => mute.assigned.length === 1, 5000, 'offer');
    await until(
      async () => (await server.store.counts()).queued === 1,
      5000,
      'requeued by the retried release',
    );
    expectThrown('release');
    await pool.join('v-honest');
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 2 });
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.release|dependency': 1 });
    await expectServing();
  });

  it('releaseVolunteer throws on disconnect: retried, and the task is re-assigned', async () => {
    await start();
    const quitter = await pool.join('v-quitter', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['person.jpg']);
    await until(() => quitter.held.size === 1, 5000, 'held');
    const helper = await pool.join('v-helper');
    faults.failNext('releaseVolunteer', sqliteError('SQLITE_IOERR'));
    quitter.close();
    expect((await server.waitForJob(job.id, 10_000)).tasks[0]).toMatchObject({ status: 'done', attempts: 2 });
    expect(helper.results).toHaveLength(1);
    expectThrown('releaseVolunteer');
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.disconnect|dependency': 1 });
    await expectServing();
  });

  it('lapseExpired throws: the lease lapses on a later check and the task completes elsewhere', async () => {
    await start({ leaseMs: 300, leaseCheckMs: 20 });
    const stalled = await pool.join('v-stalled', { behaviour: 'no-heartbeat' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => stalled.held.size === 1, 5000, 'held');
    faults.failNext('lapseExpired');
    await pool.join('v-backup');
    expect((await server.waitForJob(job.id, 10_000)).tasks[0]).toMatchObject({ status: 'done', attempts: 2 });
    expectThrown('lapseExpired');
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.leases|dependency': 1 });
    await expectServing();
  });

  it('failOverdue throws: the deadline check runs again and fails the overdue task', async () => {
    await start({ taskDeadlineMs: 200, deadlineCheckMs: 50 });
    // Uploaded first: the failure opens the breaker, and uploads meet a 503 until it closes.
    const job = await server.createJob(['dog.jpg']);
    faults.failNext('failOverdue');
    const failed = await server.waitForJob(job.id, 10_000);
    expect(failed.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'deadline_exceeded' } });
    expectThrown('failOverdue');
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.deadlines|dependency': 1 });
    await expectServing();
  });

  it('renew throws: the heartbeat is answered storage_unavailable, the lease is kept, the task completes', async () => {
    await start({ leaseMs: 2000 });
    const v = await pool.join('v-renew', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    faults.failNext('renew');
    const refused = await v.socket
      .timeout(2000)
      .emitWithAck('task:heartbeat', { assignmentIds: [...v.held] });
    expect(refused).toMatchObject({ ok: false, code: 'storage_unavailable' });
    expectThrown('renew');
    await expectServing();
    const renewed = await v.socket
      .timeout(2000)
      .emitWithAck('task:heartbeat', { assignmentIds: [...v.held] });
    expect(renewed).toMatchObject({ ok: true, data: { lost: [] } });
    await v.answer(v.assigned[0]!);
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(v.cancelled).toHaveLength(0);
  });

  it('complete throws: the result is answered storage_unavailable, the lease stays, the resend is accepted', async () => {
    await start();
    const v = await pool.join('v-complete', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['bus.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    const task = v.assigned[0]!;
    await until(() => server.store.getAssignment(task.assignmentId)?.status === 'acked', 5000, 'ack stored');
    faults.failNext('complete', sqliteError('SQLITE_FULL'));
    const refused = await v.answer(task);
    expect(refused).toMatchObject({ ok: false, code: 'storage_unavailable' });
    expect(server.store.getAssignment(task.assignmentId)?.status).toBe('acked'); // the lease is in place
    expect(await server.store.counts()).toMatchObject({ running: 1, done: 0 });
    await expectServing();
    expect(await v.answer(task)).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.result|dependency': 1 });
  });

  it('reportFailure throws: task:error is answered storage_unavailable and can be sent again', async () => {
    await start();
    const v = await pool.join('v-report', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    const report = {
      assignmentId: v.assigned[0]!.assignmentId,
      code: 'undecodable' as const,
      message: 'cannot decode',
    };
    faults.failNext('reportFailure');
    expect(await v.socket.timeout(2000).emitWithAck('task:error', report)).toMatchObject({
      ok: false,
      code: 'storage_unavailable',
    });
    await expectServing();
    expect(await v.socket.timeout(2000).emitWithAck('task:error', report)).toEqual({
      ok: true,
      data: { requeued: true },
    });
    await pool.join('v-other');
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('while the database is down, dispatch pauses (no attempts burnt) and uploads get 503; extendLiveLeases throwing on recovery does not stop it', async () => {
    // Probes only when asked (/healthz), so the breaker stays open until this test closes it.
    await start({ healthCheckMs: 60_000 });
    const job = await server.createJob(['dog.jpg']);
    // A dependency fault seen by a write opens the breaker until the next successful probe.
    server.health.markFailed('database', sqliteError('SQLITE_BUSY'));
    faults.failNext('extendLiveLeases');
    const refused = await server.upload([{ name: 'dog.jpg', bytes: readImage('dog.jpg') }]);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(ApiErrorSchema.parse(await refused.json()).error.code).toBe('storage_unavailable');
    const v = await pool.join('v-paused');
    // connect() dispatches synchronously when it may: nothing was assigned.
    expect(await server.store.counts()).toMatchObject({ queued: 1, running: 0 });
    expect((await server.getJob(job.id)).tasks[0]).toMatchObject({ status: 'queued', attempts: 0 });
    expect(v.assigned).toHaveLength(0);
    await expectServing(); // the probe passes: the breaker closes, dispatch resumes
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(v.results).toHaveLength(1);
    expectThrown('extendLiveLeases');
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.resume|dependency': 1 });
    expect(await server.store.counts()).toMatchObject({ queued: 0, done: 1 });
  });

  it('an unknown (non-dependency) error is counted as such and the server keeps serving', async () => {
    await start();
    const v = await pool.join('v-bug', { behaviour: 'ack-then-silent' });
    faults.failNext('ack', new TypeError('a bug'));
    const job = await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    await until(() => faults.thrown.length === 1, 5000, 'the bug thrown');
    await v.answer(v.assigned[0]!);
    expect((await server.waitForJob(job.id)).status).toBe('done');
    expect(await backgroundErrors()).toMatchObject({ 'scheduler.ack|unknown': 1 });
    const res = await fetch(`${server.url}/api/jobs/nope`, { headers: bearer() });
    expect(ApiErrorSchema.parse(await res.json()).error.code).toBe('not_found');
  });

  it('a socket handler that throws: typed ack, reported to the error sink, the socket stays usable', async () => {
    await start();
    const job = await server.createJob(['dog.jpg']);
    const live = io(`${server.url}${NAMESPACES.live}`, {
      auth: { protocolVersion: PROTOCOL_VERSION, apiKey: TEST_KEYS.owner.key },
      transports: ['websocket'],
      reconnection: false,
    });
    try {
      faults.failNext('getJob', new RangeError('a bug'));
      expect(await live.timeout(2000).emitWithAck('job:watch', { jobId: job.id })).toEqual({
        ok: false,
        code: 'internal',
        message: 'internal error',
      });
      expect(await backgroundErrors()).toMatchObject({ 'socket.job:watch|unknown': 1 });
      expect(await live.timeout(2000).emitWithAck('job:watch', { jobId: job.id })).toMatchObject({
        ok: true,
      });
    } finally {
      live.close();
    }
  });
});
