/**
 * Restart recovery at the store level: a second SchedulerStore opened on the
 * same data directory while leases are still live (as after a crash) requeues
 * every unfinished task in job order (the leases were in memory only: nothing of
 * them was written), keeps stored results and still accepts nothing twice.
 * (The real-process crash tests are in faults/.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config';
import { SchedulerStore } from '../src/store/sqlite';
import { openDatabase, type Db } from '../src/storage/database';

const sha = 'a'.repeat(64);
const task = (name: string) => ({ name, imageSha256: sha, mime: 'image/jpeg', width: 100, height: 80 });
const dog = [{ label: 'dog', score: 0.9, box: [1, 2, 30, 40] as [number, number, number, number] }];

const open: Db[] = [];
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
});

function openStore(dataDir: string): { db: Db; store: SchedulerStore } {
  const db = openDatabase(dataDir);
  open.push(db);
  return { db, store: new SchedulerStore(db, DEFAULT_CONFIG) };
}

describe('SchedulerStore.recover after a crash', () => {
  it('requeues the tasks of live leases (never written) in job order and keeps stored results', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-recover-'));
    const t0 = 1_000_000;
    const before = openStore(dataDir);
    before.store.recover(t0); // fresh start
    const job1 = await before.store.createJob([task('a'), task('b'), task('c')], t0);
    const job2 = await before.store.createJob([task('d')], t0 + 1);

    const a = before.store.assignNext('v1', t0 + 10, 1000)!; // job1 a
    const d = before.store.assignNext('v2', t0 + 11, 1000)!; // fair: job2 d
    const b = before.store.assignNext('v1', t0 + 12, 1000)!; // job1 b
    expect([a.task.name, d.task.name, b.task.name]).toEqual(['a', 'd', 'b']);
    before.store.ack(a.assignment.id, t0 + 20, 10_000);
    before.store.ack(d.assignment.id, t0 + 21, 10_000);
    // b stays `offered`; a is completed; d stays `acked`: two live leases.
    expect(before.store.complete(a.assignment.id, 'v1', dog, 12, t0 + 30).kind).toBe('accepted');
    expect(await before.store.counts()).toEqual({ queued: 1, running: 2, done: 1, failed: 0 });

    // Offers and acks wrote nothing: in SQLite b and d are still queued, without an assignment row.
    const rows = before.db
      .prepare('SELECT status, attempts FROM tasks WHERE id IN (?, ?)')
      .all(b.task.id, d.task.id);
    expect(rows).toEqual([
      { status: 'queued', attempts: 0 },
      { status: 'queued', attempts: 0 },
    ]);
    expect(before.db.prepare('SELECT id FROM assignments').all()).toEqual([{ id: a.assignment.id }]);

    // "Crash": the first connection is never closed cleanly; a new process opens the same files.
    const after = openStore(dataDir);
    const recovered = after.store.recover(t0 + 5_000);
    expect(recovered).toEqual({ lapsed: 0, queued: 3 });
    expect(await after.store.counts()).toEqual({ queued: 3, running: 0, done: 1, failed: 0 });
    for (const id of [b.assignment.id, d.assignment.id]) expect(after.store.getAssignment(id)).toBeNull();
    // The stored result is untouched.
    expect(after.store.getTask(a.task.id)).toMatchObject({ status: 'done', detections: dog, attempts: 1 });
    expect(after.store.getAssignment(a.assignment.id)).toMatchObject({
      status: 'completed',
      inferenceMs: 12,
    });
    expect((await after.store.getJob(job1.id))!.tasks.map((t) => t.status)).toEqual([
      'done',
      'queued',
      'queued',
    ]);
    expect((await after.store.getJob(job2.id))!.status).toBe('queued');

    // The rebuilt queue hands out every unfinished task exactly once, in job order.
    const next = [1, 2, 3].map((i) => after.store.assignNext(`v${i + 2}`, t0 + 6_000, 1000)!);
    expect(next.map((n) => n.task.name).sort()).toEqual(['b', 'c', 'd']);
    expect(after.store.assignNext('v9', t0 + 6_000, 1000)).toBeNull();
    // The crash forgave the attempt in flight (it was counted in memory only): this is the first.
    expect(after.store.getTask(b.task.id)!.attempts).toBe(1);

    // A result for a lease from before the crash was never acked, so nothing was promised: it is
    // refused (the server cannot tell it was ever offered) and the task runs again. The newer
    // lease completes it once; the done task never changes.
    expect(after.store.complete(d.assignment.id, 'v2', dog, 5, t0 + 7_000)).toMatchObject({
      kind: 'rejected',
      code: 'not_holder',
    });
    const newerD = next.find((n) => n.task.name === 'd')!;
    expect(
      after.store.complete(newerD.assignment.id, newerD.assignment.volunteerId, dog, 5, t0 + 7_001).kind,
    ).toBe('accepted');
    expect(
      after.store.complete(newerD.assignment.id, newerD.assignment.volunteerId, [], 5, t0 + 7_001).kind,
    ).toBe('duplicate');
    expect(after.store.complete(a.assignment.id, 'v1', [], 1, t0 + 7_002).kind).toBe('duplicate');
    expect(after.store.getTask(a.task.id)!.detections).toEqual(dog);
    expect(after.store.getTask(d.task.id)!.detections).toEqual(dog);
  });

  it('lapses live leases an older version wrote, once: recovering twice lapses nothing more', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-recover-'));
    const first = openStore(dataDir);
    first.store.recover(1);
    const job = await first.store.createJob([task('x'), task('y')], 1);
    // As a version that wrote its offers left them: the task running, its lease `offered`.
    const x = job.tasks[0]!.id;
    first.db.prepare("UPDATE tasks SET status = 'running', attempts = 1 WHERE id = ?").run(x);
    first.db
      .prepare(
        "INSERT INTO assignments (id, task_id, volunteer_id, status, assigned_at, lease_expires_at) VALUES ('old', ?, 'v1', 'offered', 2, 1002)",
      )
      .run(x);
    expect(openStore(dataDir).store.recover(10)).toEqual({ lapsed: 1, queued: 2 });
    expect(openStore(dataDir).store.recover(20)).toEqual({ lapsed: 0, queued: 2 });
  });
});
