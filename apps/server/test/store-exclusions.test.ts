/**
 * Exclusions (a volunteer is not offered a task again) live only as long as their task may still
 * run (issue 16, fix 5): a task that fails, whatever the path, takes its exclusions with it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config';
import { SchedulerStore } from '../src/store/sqlite/scheduler-store';
import { openDatabase } from '../src/storage/database';

async function fresh(policy: Partial<typeof DEFAULT_CONFIG> = {}) {
  const db = openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-exclusions-')));
  const store = new SchedulerStore(db, { ...DEFAULT_CONFIG, ...policy });
  const task = { name: 'a.jpg', imageSha256: 'a'.repeat(64), mime: 'image/jpeg', width: 10, height: 10 };
  const job = await store.createJob([task], Date.now());
  /** The store's exclusions, by task (private: this is what must not grow). */
  const exclusions = () => (store as unknown as { excluded: Map<string, Set<string>> }).excluded;
  return { store, taskId: job.tasks[0]!.id, exclusions };
}

describe('exclusions of tasks that failed', () => {
  it('go when the task runs out of attempts (without a referee: with one, losses never fail it, T13)', async () => {
    const { store, taskId, exclusions } = await fresh({ maxAttempts: 1, verification: false });
    const now = Date.now();
    const { assignment } = store.assignNext('v1', now, 1000)!;
    // A report that does not count (rule V6) excludes its sender and requeues, or here fails.
    store.reportFailure(assignment.id, 'v1', 'internal', 'no', now, false);
    expect(store.getTask(taskId)).toMatchObject({ status: 'failed', errorCode: 'attempts_exhausted' });
    expect(exclusions().size).toBe(0);
  });

  it('go when the task fails past its deadline', async () => {
    const { store, taskId, exclusions } = await fresh();
    const now = Date.now();
    const { assignment } = store.assignNext('v1', now, 1000)!;
    store.reportFailure(assignment.id, 'v1', 'internal', 'no', now, false);
    expect(exclusions().get(taskId)?.has('v1')).toBe(true);
    store.failOverdue(now + DEFAULT_CONFIG.taskDeadlineMs + 1);
    expect(store.getTask(taskId)).toMatchObject({ status: 'failed', errorCode: 'deadline_exceeded' });
    expect(exclusions().size).toBe(0);
  });
});
