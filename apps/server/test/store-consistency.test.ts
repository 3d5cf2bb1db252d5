/**
 * The queue index and SQLite stay consistent when a write fails inside its
 * transaction (issue 11: tasks stuck `queued` with 0 attempts after
 * SQLITE_FULL). A temporary trigger makes the real transaction abort half-way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config';
import { SchedulerStore } from '../src/store/sqlite';
import { openDatabase } from '../src/storage/database';

async function fresh() {
  const db = openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-consistency-')));
  const store = new SchedulerStore(db, DEFAULT_CONFIG);
  const task = { name: 'a.jpg', imageSha256: 'a'.repeat(64), mime: 'image/jpeg', width: 10, height: 10 };
  const job = await store.createJob([task], Date.now());
  return { db, store, taskId: job.tasks[0]!.id };
}

/** Makes every INSERT/UPDATE matching `when` on `table` abort its transaction, as a full disk would. */
function breakWrites(
  db: ReturnType<typeof openDatabase>,
  table: string,
  op: 'INSERT' | 'UPDATE',
  when = '1',
) {
  db.exec(
    `CREATE TEMP TRIGGER broken BEFORE ${op} ON ${table} WHEN ${when} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
  );
  return () => db.exec('DROP TRIGGER temp.broken');
}

describe('store consistency when a write fails mid-transaction', () => {
  it('assignNext writes nothing: a broken write cannot touch an offer, the task is still queued in SQLite', async () => {
    const { db, store, taskId } = await fresh();
    const repair = breakWrites(db, 'assignments', 'INSERT');
    const offer = store.assignNext('v1', Date.now(), 1000)!;
    expect(offer.task).toMatchObject({ id: taskId, status: 'running', attempts: 1 });
    expect(db.prepare('SELECT status, attempts FROM tasks WHERE id = ?').get(taskId)).toEqual({
      status: 'queued',
      attempts: 0,
    });
    expect(store.queuedCount).toBe(0);
    repair();
    db.close();
  });

  it('release: the lease stays live and the index does not gain a task the database calls running', async () => {
    const { db, store, taskId } = await fresh();
    const offer = store.assignNext('v1', Date.now(), 1000)!;
    const repair = breakWrites(db, 'assignments', 'INSERT', "NEW.status = 'released'");
    expect(() => store.release(offer.assignment.id, 'volunteer_left', Date.now())).toThrow(/disk is full/);
    expect(store.getAssignment(offer.assignment.id)?.status).toBe('offered');
    expect(store.getTask(taskId)?.status).toBe('running');
    expect(store.queuedCount).toBe(0);
    repair();
    expect(store.release(offer.assignment.id, 'volunteer_left', Date.now())?.task.status).toBe('queued');
    expect(store.queuedCount).toBe(1);
    db.close();
  });

  it('complete: a failed result write keeps the lease, so the resend is accepted', async () => {
    const { db, store, taskId } = await fresh();
    const offer = store.assignNext('v1', Date.now(), 1000)!;
    store.ack(offer.assignment.id, Date.now(), 10_000);
    const repair = breakWrites(db, 'tasks', 'UPDATE', "NEW.status = 'done'");
    expect(() => store.complete(offer.assignment.id, 'v1', [], 1, Date.now())).toThrow(/disk is full/);
    expect(store.getAssignment(offer.assignment.id)?.status).toBe('acked');
    repair();
    expect(store.complete(offer.assignment.id, 'v1', [], 1, Date.now()).kind).toBe('accepted');
    expect(store.getTask(taskId)?.status).toBe('done');
    db.close();
  });
});
