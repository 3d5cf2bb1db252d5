/**
 * SQLite locked by another process (`BEGIN EXCLUSIVE` past the busy timeout),
 * as a backup job or an operator's sqlite3 shell would: uploads and results
 * fail cleanly within the busy timeout (503 / `storage_unavailable`), reads
 * go on, /healthz names the database, nothing is lost, and everything
 * recovers by itself when the lock is released.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApiErrorSchema, HealthSchema } from '@tabgrid/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/storage/blob-store';
import { DATABASE_FILE } from '../../src/storage/database';
import { volunteerPool } from '../support/fake-volunteer';
import { readImage, startTestServer, until, type TestServer } from '../support/harness';
import { killAll, spawnTs, type Child } from '../support/processes';
import { recordFigure } from './figures';

/** The server's busy timeout in these tests: how long a write waits for the lock before SQLITE_BUSY. */
const BUSY_MS = 300;
/** A refusal must come within the busy timeout plus this much slack (two noisy cores). */
const SLACK_MS = 4000;

let server: TestServer;
const pool = volunteerPool(() => server.url);

afterEach(async () => {
  pool.closeAll();
  await killAll();
  await server?.close();
});

async function lockDatabase(): Promise<Child> {
  const locker = spawnTs('locker', 'apps/server/test/support/hold-lock.ts', [
    path.join(server.dataDir, DATABASE_FILE),
    '30000',
  ]);
  await until(() => locker.output().includes('locked') || !locker.alive, 20_000, 'lock taken');
  expect(locker.output()).toContain('locked');
  return locker;
}

async function health() {
  const res = await fetch(`${server.url}/healthz`);
  return { status: res.status, body: HealthSchema.parse(await res.json()) };
}

const imageFile = (dataDir: string, sha: string) => path.join(dataDir, 'images', sha.slice(0, 2), sha);

describe('SQLite locked by another process (issue 11)', () => {
  it('uploads and results fail cleanly within the busy timeout, nothing is lost, all recovers', async () => {
    // The probe runs only when /healthz asks, so the test decides when the breaker may close.
    server = await startTestServer({ dbBusyTimeoutMs: BUSY_MS, healthCheckMs: 60_000 });
    const v = await pool.join('v-lock', { behaviour: 'ack-then-silent' });
    const job = await server.createJob(['dog.jpg']);
    await until(() => v.held.size === 1, 5000, 'held');
    const task = v.assigned[0]!;
    await until(() => server.store.getAssignment(task.assignmentId)?.status === 'acked', 5000, 'acked');

    const locker = await lockDatabase();
    // An upload while locked: its blob is written, its rows are not -> 503, and the blob is removed.
    const busImage = readImage('bus.jpg');
    let t0 = performance.now();
    const refused = await server.upload([{ name: 'bus.jpg', bytes: busImage }]);
    const uploadRefusedMs = performance.now() - t0;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(ApiErrorSchema.parse(await refused.json()).error.code).toBe('storage_unavailable');
    expect(uploadRefusedMs).toBeLessThan(BUSY_MS + SLACK_MS);
    expect(fs.existsSync(imageFile(server.dataDir, BlobStore.sha256(busImage)))).toBe(false);
    expect(await server.store.counts()).toMatchObject({ queued: 0, running: 1, done: 0 }); // reads go on

    // The result while locked (the breaker is open now): refused at once, the lease is kept.
    t0 = performance.now();
    expect(await v.answer(task)).toMatchObject({ ok: false, code: 'storage_unavailable' });
    const resultRefusedMs = performance.now() - t0;
    expect(resultRefusedMs).toBeLessThan(BUSY_MS + SLACK_MS);
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.failing.map((f) => f.name)).toEqual(['database']);
    expect(down.body.failing[0]!.error).toMatch(/SQLITE_BUSY|locked/);
    expect((await server.getJob(job.id)).tasks[0]!.status).toBe('running');

    // Lock released: healthy again, the resent result is stored, uploads work.
    const releasedAt = performance.now();
    await locker.kill('SIGTERM');
    await until(async () => (await health()).status === 200, 10_000, 'healthy after the lock');
    const recoverMs = performance.now() - releasedAt;
    expect(await v.answer(task)).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(v.cancelled).toHaveLength(0);
    v.behaviour = 'honest';
    const again = await server.createJob(['bus.jpg']);
    expect((await server.waitForJob(again.id)).status).toBe('done');
    recordFigure('sqlite-lock', { uploadRefusedMs, resultRefusedMs, recoverMs, busyTimeoutMs: BUSY_MS });
  });

  it('a dispatch during the lock writes nothing, so it goes on; the result waits for the lock to go', async () => {
    server = await startTestServer({ dbBusyTimeoutMs: BUSY_MS, healthCheckMs: 60_000 });
    // Registered before the lock (a new identity needs a write); it comes back during the lock.
    (await pool.join('v-late')).close();
    await until(() => server.scheduler.volunteersOnline === 0, 5000, 'the volunteer to leave');
    const job = await server.createJob(['person.jpg']);
    const locker = await lockDatabase();
    // Offers, acks and heartbeats write nothing (the leases are in memory): the lock holds up no dispatch.
    const v = await pool.join('v-late', { behaviour: 'ack-then-silent' });
    await until(() => v.held.size === 1, 5000, 'held');
    const task = v.assigned[0]!;
    await until(() => server.store.getAssignment(task.assignmentId)?.status === 'acked', 5000, 'acked');
    expect(await server.store.counts()).toMatchObject({ queued: 0, running: 1 });
    expect(await server.errors.total()).toBe(0);
    // Its result must be written: refused within the busy timeout, the lease kept, sent again later.
    expect(await v.answer(task)).toMatchObject({ ok: false, code: 'storage_unavailable' });
    expect(await server.errors.total()).toBe(1); // the result met SQLITE_BUSY, reported to the sink
    expect((await health()).status).toBe(503);
    await locker.kill('SIGTERM');
    await until(async () => (await health()).status === 200, 10_000, 'healthy after the lock');
    expect(await v.answer(task)).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    expect((await server.waitForJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
  });
});
