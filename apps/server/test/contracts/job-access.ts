/**
 * Contract suite for `JobAccess` (ownership, visibility, the owner's job list, deletion): the
 * same tests on SQLite and on Redis, with jobs created through each backend's own scheduling
 * store, as the upload route does. Run by `job-access.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import type { JobAccess } from '../../src/access/job-access';
import type { SchedulingStore } from '../../src/store/scheduling-store';
import type { NewTask } from '../../src/store/records';

export interface AccessUnderTest {
  access: JobAccess;
  store: SchedulingStore;
  /** Until the store's writes are stored and its claims made (Redis); nothing on SQLite. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Runs every task the store can offer to one volunteer, one after another, 10 ms apart. */
async function completeAll(s: AccessUnderTest, volunteer: string, from: number): Promise<string[]> {
  await s.settle();
  const done: string[] = [];
  for (
    let next = s.store.assignNext(volunteer, from, 1000);
    next;
    next = s.store.assignNext(volunteer, from, 1000)
  ) {
    from += 10;
    s.store.complete(next.assignment.id, volunteer, [], 1, from);
    done.push(next.task.id);
  }
  await s.settle();
  return done;
}

const tasks = (n: number): NewTask[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `p${i}.jpg`,
    imageSha256: `${i}`.padStart(64, 'a'),
    mime: 'image/jpeg',
    width: 64,
    height: 48,
  }));

export function jobAccessContract(name: string, open: () => Promise<AccessUnderTest>): void {
  describe(`${name}: job access`, () => {
    it('the owner owns a job; nobody else does; an unknown job is null', async () => {
      const { access, store, close } = await open();
      try {
        const job = await store.createJob(tasks(2), 1000, { owner: 'alice', isPublic: true });
        expect(await access.get(job.id)).toEqual({
          id: job.id,
          owner: 'alice',
          isPublic: true,
          deletedAt: null,
          cancelledAt: null,
          expected: null,
        });
        // Cancel (issue 20), written by the store's job records: the first time stays; the job
        // keeps everything else. Access reads them back.
        const at = await store.markCancelled(job.id, 5000);
        expect(at).toBe(5000);
        expect(await store.markCancelled(job.id, 6000)).toBe(5000);
        await store.setExpected(job.id, 120);
        expect(await access.get(job.id)).toMatchObject({ cancelledAt: 5000, expected: 120, deletedAt: null });
        expect((await access.list('alice', 10, null)).jobs[0]).toMatchObject({
          cancelledAt: 5000,
          expected: 120,
        });
        expect(await access.owns('alice', job.id)).toBe(true);
        expect(await access.owns('bob', job.id)).toBe(false);
        expect(await access.owns('', job.id)).toBe(false);
        expect(await access.get('job_missing')).toBeNull();
        expect(await access.owns('alice', 'job_missing')).toBe(false);
        const secret = await store.createJob(tasks(1), 1001, { owner: 'bob', isPublic: false });
        expect(await access.get(secret.id)).toMatchObject({ owner: 'bob', isPublic: false });
      } finally {
        await close();
      }
    });

    it("lists a requester's own jobs newest first, in pages, with task counts", async () => {
      const { access, store, close } = await open();
      try {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++)
          ids.push((await store.createJob(tasks(i + 1), 1000 + i, { owner: 'alice', isPublic: false })).id);
        await store.createJob(tasks(1), 2000, { owner: 'bob', isPublic: false });
        const first = await access.list('alice', 2, null);
        expect(first.jobs.map((j) => j.id)).toEqual([ids[4], ids[3]]);
        expect(first.jobs[0]).toMatchObject({
          status: 'queued',
          createdAt: 1004,
          public: false,
          deletedAt: null,
          tasks: { total: 5, queued: 5, running: 0, done: 0, failed: 0 },
        });
        expect(first.nextCursor).not.toBeNull();
        const second = await access.list('alice', 2, first.nextCursor);
        expect(second.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
        const last = await access.list('alice', 2, second.nextCursor);
        expect(last.jobs.map((j) => j.id)).toEqual([ids[0]]);
        expect(last.nextCursor).toBeNull();
        expect((await access.list('carol', 10, null)).jobs).toEqual([]);
        await expect(Promise.resolve().then(() => access.list('alice', 2, '!!'))).rejects.toThrow(/cursor/);
      } finally {
        await close();
      }
    });

    it('lists a task being run as running, as the job view does, and done once its result is in', async () => {
      const s = await open();
      try {
        const job = await s.store.createJob(tasks(3), 1000, { owner: 'alice', isPublic: false });
        await s.settle();
        const offered = s.store.assignNext('v1', 2000, 1000);
        const acked = s.store.assignNext('v2', 2000, 1000);
        expect(offered?.task.jobId).toBe(job.id);
        expect(acked?.task.jobId).toBe(job.id);
        s.store.ack(acked!.assignment.id, 2001, 10_000);
        await s.store.createJob(tasks(2), 1001, { owner: 'alice', isPublic: false });
        await s.settle();
        const running = { total: 3, queued: 1, running: 2, done: 0, failed: 0 };
        const listed = (await s.access.list('alice', 10, null)).jobs.find((j) => j.id === job.id);
        expect(listed).toMatchObject({ status: 'running', tasks: running });
        const view = await s.store.getJob(job.id);
        expect(view?.tasks.filter((t) => t.status === 'running')).toHaveLength(2);
        const other = (await s.access.list('alice', 10, null)).jobs.find((j) => j.id !== job.id);
        expect(other?.tasks).toMatchObject({ queued: 2, running: 0 });

        s.store.complete(acked!.assignment.id, 'v2', [], 1, 2100);
        s.store.release(offered!.assignment.id, 'ack_timeout', 2200);
        await s.settle();
        const after = (await s.access.list('alice', 10, null)).jobs.find((j) => j.id === job.id);
        expect(after?.tasks).toEqual({ total: 3, queued: 2, running: 0, done: 1, failed: 0 });
      } finally {
        await s.close();
      }
    });

    it("counts a requester's unfinished tasks across its jobs", async () => {
      const { access, store, close } = await open();
      try {
        expect(await access.unfinishedTasks('alice')).toBe(0);
        await store.createJob(tasks(3), 1000, { owner: 'alice', isPublic: false });
        await store.createJob(tasks(2), 1001, { owner: 'alice', isPublic: false });
        await store.createJob(tasks(4), 1002, { owner: 'bob', isPublic: false });
        expect(await access.unfinishedTasks('alice')).toBe(5);
        expect(await access.unfinishedTasks('bob')).toBe(4);
      } finally {
        await close();
      }
    });

    it("shows a viewer the newest results of public jobs and its own, none of a deleted job's", async () => {
      const s = await open();
      try {
        const shown = await s.store.createJob(tasks(2), 1000, { owner: 'alice', isPublic: true });
        const secret = await s.store.createJob(tasks(1), 1001, { owner: 'bob', isPublic: false });
        const gone = await s.store.createJob(tasks(1), 1002, { owner: 'alice', isPublic: true });
        const waiting = await s.store.createJob(tasks(1), 1003, { owner: 'alice', isPublic: true });
        const done = await completeAll(s, 'v1', 2000);
        const ofJob = (job: { tasks: { id: string }[] }) => job.tasks.map((t) => t.id);
        expect([...done].sort()).toEqual(
          [...ofJob(shown), ...ofJob(secret), ...ofJob(gone), ...ofJob(waiting)].sort(),
        );
        await s.store.appendTasks(waiting.id, tasks(1), 3000); // queued: not a result
        await s.store.markDeleted(gone.id, 4000);

        const anyone = await s.access.recentVisible(null, 10);
        expect(anyone.map((r) => r.taskId).sort()).toEqual([...ofJob(shown), ...ofJob(waiting)].sort());
        expect(anyone.every((r) => r.isPublic && r.owner === 'alice')).toBe(true);
        const bob = await s.access.recentVisible('bob', 10);
        expect(bob.map((r) => r.taskId).sort()).toEqual(
          [...ofJob(shown), ...ofJob(secret), ...ofJob(waiting)].sort(),
        );
        // Newest first, and no more than asked for.
        const newest = done.at(-1) === ofJob(gone)[0] ? done.at(-2) : done.at(-1);
        expect((await s.access.recentVisible('bob', 1)).map((r) => r.taskId)).toEqual([newest]);
      } finally {
        await s.close();
      }
    });

    it('a deletion frees the images no live job uses any more, once', async () => {
      const s = await open();
      try {
        const img = (n: number) => tasks(n + 1)[n]!;
        const a = await s.store.createJob([img(1), img(2), img(2)], 1000, {
          owner: 'alice',
          isPublic: false,
        });
        const b = await s.store.createJob([img(2)], 1001, { owner: 'bob', isPublic: false });
        const c = await s.store.createJob([img(3)], 1002, { owner: 'bob', isPublic: false });
        await s.store.appendTasks(c.id, [img(1)], 1003);
        const first = await s.store.markDeleted(a.id, 2000);
        // Image 2 is still used by job b, image 1 by job c (appended).
        expect(first.freeable).toEqual([]);
        await first.freed?.(first.freeable);
        const second = await s.store.markDeleted(c.id, 2001);
        expect(second.freeable.sort()).toEqual([img(1).imageSha256, img(3).imageSha256].sort());
        await second.freed?.(second.freeable);
        expect((await s.store.markDeleted(c.id, 2002)).freeable).toEqual([]); // once
        const last = await s.store.markDeleted(b.id, 2003);
        expect(last.freeable).toEqual([img(2).imageSha256]);
        await last.freed?.(last.freeable);
      } finally {
        await s.close();
      }
    });

    it('marks a job deleted once: a second deletion keeps the first time', async () => {
      const { access, store, close } = await open();
      try {
        const job = await store.createJob(tasks(1), 1000, { owner: 'alice', isPublic: false });
        const first = await store.markDeleted(job.id, 5000);
        expect(first.deletedAt).toBe(5000);
        const again = await store.markDeleted(job.id, 6000);
        expect(again).toMatchObject({ deletedAt: 5000, freeable: [] });
        expect((await access.get(job.id))?.deletedAt).toBe(5000);
        expect((await access.list('alice', 10, null)).jobs[0]?.deletedAt).toBe(5000);
      } finally {
        await close();
      }
    });
  });
}
