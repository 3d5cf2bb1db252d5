/**
 * `DELETE /api/jobs/:id` (issue 8): cancels the unfinished tasks — a volunteer holding them
 * gets `task:cancel` (`cancelled`) and its late result changes nothing — keeps the finished
 * results, and deletes the image bytes no other job uses. Real server, real sockets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { JobDeletedSchema, JobListSchema, type ErrorCode } from '@tabgrid/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { BlobStore } from '../src/storage/blob-store';
import { DATABASE_FILE } from '../src/storage/database';
import { volunteerPool } from './support/fake-volunteer';
import { TEST_KEYS, bearer, readImage, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

const PHOTOS = ['000004.jpg', '000139.jpg', '000148.jpg', '000181.jpg', '000230.jpg', 'person.jpg'];
const blobPath = (dataDir: string, name: string) => {
  const sha = BlobStore.sha256(readImage(name));
  return path.join(dataDir, 'images', sha.slice(0, 2), sha);
};

describe('DELETE /api/jobs/:id', () => {
  it('cancels held and queued tasks, tells the volunteer, keeps results, frees unshared images', async () => {
    server = await startTestServer();
    // Holds slots + 1 = 4 tasks and never answers by itself.
    const v = await pool.join('v-holder', { behaviour: 'ack-then-silent', slots: 3 });
    const reasons = new Map<string, ErrorCode>();
    v.socket.on('task:cancel', ({ assignmentId, reason }) => reasons.set(assignmentId, reason));

    const job = await server.createJob(PHOTOS);
    await until(() => v.held.size === 4, 5000, 'four held tasks');
    // One result comes in; the volunteer is offered the next queued task (one stays queued).
    const first = v.assigned[0]!;
    expect(await v.answer(first)).toMatchObject({ ok: true, data: { accepted: true } });
    await until(() => v.assigned.length === 5 && v.held.size === 4, 5000, 'the refill');
    // Another requester's job shares one photo's bytes; it waits (the volunteer is full).
    const shared = await server.createJob(['000004.jpg'], { key: TEST_KEYS.other.key });

    const before = await server.getJob(job.id);
    expect(before.tasks.map((t) => t.status).sort()).toEqual([
      'done',
      'queued',
      'running',
      'running',
      'running',
      'running',
    ]);

    // Nobody but the owner may delete it.
    const url = `${server.url}/api/jobs/${job.id}`;
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(url, { method: 'DELETE', headers: bearer(TEST_KEYS.other.key) })).status).toBe(404);

    const held = [...v.held];
    expect(held).toHaveLength(4);
    const res = await fetch(url, { method: 'DELETE', headers: bearer() });
    expect(res.status).toBe(200);
    const deleted = JobDeletedSchema.parse(await res.json());
    expect(deleted).toMatchObject({ id: job.id, cancelled: 5, imagesDeleted: 5 });

    // The volunteer is told, for each of the four it held.
    await until(() => held.every((id) => reasons.has(id)), 5000, 'task:cancel for every held task');
    expect(held.map((id) => reasons.get(id))).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);

    // The finished result is kept; the rest failed as cancelled.
    const after = await server.getJob(job.id);
    const done = after.tasks.find((t) => t.id === first.taskId)!;
    expect(done.status).toBe('done');
    expect(done.detections).toEqual(before.tasks.find((t) => t.id === first.taskId)!.detections);
    for (const t of after.tasks.filter((x) => x.id !== first.taskId)) {
      expect(t).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });
    }

    // A late result for a cancelled task changes nothing.
    const late = v.assigned.find((a) => a.assignmentId === held[0])!;
    expect(await v.answer(late)).toMatchObject({ ok: false, code: 'task_completed' });
    expect((await server.getJob(job.id)).tasks.find((t) => t.id === late.taskId)!.status).toBe('failed');

    // Image bytes: the five only this job used are gone, the shared one stays.
    for (const name of PHOTOS.slice(1))
      expect(fs.existsSync(blobPath(server.dataDir, name)), name).toBe(false);
    expect(fs.existsSync(blobPath(server.dataDir, '000004.jpg'))).toBe(true);
    const image = `${server.url}/api/jobs/${job.id}/tasks/${first.taskId}/image`;
    expect((await fetch(image, { headers: bearer() })).status).toBe(404);

    // The freed volunteer now runs the other requester's job, whose image is intact.
    await until(() => v.assigned.some((a) => a.jobId === shared.id), 5000, 'the shared job offered');
    expect(v.assigned.filter((a) => a.jobId === job.id)).toHaveLength(5);
    const offered = v.assigned.find((a) => a.jobId === shared.id)!;
    expect(Buffer.from(offered.image as Uint8Array).equals(readImage('000004.jpg'))).toBe(true);

    // The list shows it deleted; a second DELETE is harmless.
    const list = JobListSchema.parse(
      await (await fetch(`${server.url}/api/jobs`, { headers: bearer() })).json(),
    );
    expect(list.jobs.find((j) => j.id === job.id)).toMatchObject({
      deletedAt: deleted.deletedAt,
      status: 'failed',
    });
    const again = JobDeletedSchema.parse(
      await (await fetch(url, { method: 'DELETE', headers: bearer() })).json(),
    );
    expect(again).toMatchObject({ cancelled: 0, imagesDeleted: 0, deletedAt: deleted.deletedAt });
  });

  it('marks the job deleted before it cancels: a mark that fails leaves every task as it was', async () => {
    server = await startTestServer();
    const job = await server.createJob(PHOTOS.slice(0, 3));
    // A real write failure of the mark (no volunteers: the tasks stay queued).
    const db = new Database(path.join(server.dataDir, DATABASE_FILE));
    db.exec(`CREATE TRIGGER fail_mark BEFORE UPDATE OF deleted_at ON jobs
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
    try {
      const url = `${server.url}/api/jobs/${job.id}`;
      const failed = await fetch(url, { method: 'DELETE', headers: bearer(TEST_KEYS.owner.key) });
      expect(failed.status).toBeGreaterThanOrEqual(500);
      // Cancelling first would have failed them while the job still shows as not deleted.
      expect((await server.getJob(job.id)).tasks.map((t) => t.status)).toEqual([
        'queued',
        'queued',
        'queued',
      ]);
      db.exec('DROP TRIGGER fail_mark');
      const again = await fetch(url, { method: 'DELETE', headers: bearer(TEST_KEYS.owner.key) });
      expect(JobDeletedSchema.parse(await again.json())).toMatchObject({ id: job.id, cancelled: 3 });
    } finally {
      db.close();
    }
  });
});
