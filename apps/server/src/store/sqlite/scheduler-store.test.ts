import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, type Db } from '../../storage/database';
import { SchedulerStore } from './scheduler-store';

const POLICY = { maxAttempts: 2, maxFailureReports: 5, taskDeadlineMs: 60_000 };
const image = { name: 'a.jpg', imageSha256: 'a'.repeat(64), mime: 'image/jpeg', width: 1, height: 1 };

let db: Db | null = null;
afterEach(() => db?.close());

describe('SchedulerStore memory', () => {
  it('drops a failed task’s exclusions, whatever failed it (bounded by unfinished tasks)', async () => {
    db = openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-store-')));
    const store = new SchedulerStore(db, POLICY);
    // Attempts used up: excluded after a failure report, then its last lease lapses.
    const job = await store.createJob([image, image], 0);
    const first = store.assignNext('v1', 1, 1000)!;
    store.reportFailure(first.assignment.id, 'v1', 'undecodable', 'x', 2, false);
    const second = store.assignNext('v2', 3, 1000)!;
    expect(second.task.id).toBe(first.task.id);
    store.release(second.assignment.id, 'lease_expired', 4, true);
    expect(store.getTask(first.task.id)!.status).toBe('failed');
    // Deadline: excluded, then failed as overdue while queued.
    const other = store.assignNext('v1', 5, 1000)!;
    expect(other.task.id).toBe(job.tasks[1]!.id);
    store.release(other.assignment.id, 'volunteer_left', 6, true);
    expect(store.failOverdue(120_000)).toHaveLength(1);
    expect(store.exclusionsKept).toBe(0);
  });

  it('returns a completed task and its lease as stored, reading the task once (issue 18: hot path)', async () => {
    db = openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-store-')));
    const store = new SchedulerStore(db, POLICY);
    await store.createJob([image], 0);
    const first = store.assignNext('v1', 1, 1000)!;
    store.ack(first.assignment.id, 2, 5000);
    const replica = store.assignReplica(first.task.id, 'v2', 3, 1000)!; // superseded by the result
    const detections = [{ label: 'bus', score: 0.9, box: [1, 2, 3, 4] as [number, number, number, number] }];
    const reads = vi.spyOn(store, 'getTask');
    const reread = vi.spyOn(store, 'getAssignment');
    const outcome = store.complete(first.assignment.id, 'v1', detections, 40, 5);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(reread).toHaveBeenCalledTimes(1);
    vi.restoreAllMocks();
    expect(outcome.kind).toBe('accepted');
    if (outcome.kind !== 'accepted') return;
    expect(outcome.task).toEqual(store.getTask(first.task.id));
    expect(outcome.task).toMatchObject({ status: 'done', attempts: 2, completedAt: 5, detections });
    expect(outcome.assignment).toEqual(store.getAssignment(first.assignment.id));
    expect(outcome.superseded.map((a) => a.id)).toEqual([replica.assignment.id]);
  });
});
