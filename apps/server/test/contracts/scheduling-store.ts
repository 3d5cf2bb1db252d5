/**
 * The scheduling store contract: one suite, run against every implementation (SQLite in
 * `sqlite-store.test.ts`, Redis in `redis-store.test.ts`). Only the `SchedulingStore` interface
 * is used, plus `settle()` (Redis writes behind and claims in the background; SQLite has nothing
 * to wait for) and `restart()` (a crash and a new process on the same data).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SchedulingStore } from '../../src/store/scheduling-store';
import type { NewTask, RetryPolicy } from '../../src/store/records';

export interface StoreUnderTest {
  store: SchedulingStore;
  /** Everything so far is stored, and the store holds every queued task it may take. */
  settle(): Promise<void>;
  /** As after `kill -9` and a new start on the same data (same gateway id for Redis). */
  restart(): Promise<StoreUnderTest & { recovered: { lapsed: number; queued: number } }>;
  close(): Promise<void>;
}

export const POLICY: RetryPolicy = { maxAttempts: 3, maxFailureReports: 2, taskDeadlineMs: 60_000 };

/** The product's policy: verification with a referee, so lost leases never fail a task (rule T13). */
export const REFEREED: RetryPolicy = { ...POLICY, verification: true, refereeWorkers: 1 };

export const image = (n: number): NewTask => ({
  name: `img-${n}.jpg`,
  imageSha256: n.toString(16).padStart(64, '0'),
  mime: 'image/jpeg',
  width: 64,
  height: 48,
});

export const tasks = (n: number) => Array.from({ length: n }, (_, i) => image(i + 1));

export const box = (score: number) => [
  { label: 'person', score, box: [1, 2, 3, 4] as [number, number, number, number] },
];

const T0 = 1_700_000_000_000;
const OFFER = 1000;
const LEASE = 5000;

export function describeSchedulingStore(
  name: string,
  open: (policy?: RetryPolicy) => Promise<StoreUnderTest>,
): void {
  describe(`scheduling store contract: ${name}`, () => {
    const opened: StoreUnderTest[] = [];
    const start = async (policy?: RetryPolicy) => {
      const s = await open(policy);
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it('answers every job-record call with a promise, so that no caller asks which backend runs', async () => {
      const s = await start();
      const promised = <T>(answer: Promise<T>): Promise<T> => {
        expect(answer).toBeInstanceOf(Promise);
        return answer;
      };
      const job = await promised(s.store.createJob(tasks(1), T0, { owner: '', isPublic: false }));
      await promised(s.store.appendTasks(job.id, [image(2)], T0 + 1));
      await s.settle();
      await promised(s.store.getJob(job.id));
      await promised(s.store.counts());
      await promised(s.store.queueDepth());
      await promised(s.store.findTask(job.tasks[0]!.id));
      await promised(s.store.isImageReferenced(image(1).imageSha256));
      await promised(s.store.adoptOrphans('alice'));
      await promised(s.store.markDeleted(job.id, T0 + 2));
    });

    it('creates a job whose tasks are queued in order, visible in its view and the counts', async () => {
      const s = await start();
      const before = await s.store.counts();
      const job = await s.store.createJob(tasks(3), T0, { owner: 'alice', isPublic: false });
      expect(job.tasks.map((t) => t.name)).toEqual(['img-1.jpg', 'img-2.jpg', 'img-3.jpg']);
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view).toMatchObject({ id: job.id, status: 'queued', createdAt: T0 });
      expect(view!.tasks.map((t) => [t.id, t.status, t.attempts])).toEqual(
        job.tasks.map((t) => [t.id, 'queued', 0]),
      );
      const after = await s.store.counts();
      expect(after.queued - before.queued).toBe(3);
      expect(s.store.queuedCount).toBe(3);
      expect(await s.store.getJob('job_doesnotexist')).toBeNull();
      expect(await s.store.isImageReferenced(image(2).imageSha256)).toBe(true);
      expect(await s.store.isImageReferenced('f'.repeat(64))).toBe(false);

      const more = await s.store.appendTasks(job.id, [image(9)], T0 + 1);
      await s.settle();
      const grown = await s.store.getJob(job.id);
      expect(grown!.tasks.map((t) => t.id)).toEqual([...job.tasks, ...more.tasks].map((t) => t.id));
    });

    it('assigns fairly across requesters before jobs, and each task once', async () => {
      const s = await start();
      const big = await s.store.createJob(tasks(6), T0, { owner: 'alice', isPublic: false });
      const small = await s.store.createJob(tasks(2), T0, { owner: 'bob', isPublic: false });
      await s.settle();
      const owners: string[] = [];
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const next = s.store.assignNext(`v${i}`, T0, OFFER)!;
        owners.push(next.task.jobId === big.id ? 'alice' : 'bob');
        seen.add(next.task.id);
      }
      expect(owners.filter((o) => o === 'bob')).toHaveLength(2);
      expect(owners.slice(0, 2).sort()).toEqual(['alice', 'bob']);
      for (let i = 4; i < 8; i++) seen.add(s.store.assignNext(`v${i}`, T0, OFFER)!.task.id);
      expect(seen.size).toBe(8);
      expect(s.store.assignNext('v9', T0, OFFER)).toBeNull();
      expect(small.tasks.every((t) => seen.has(t.id))).toBe(true);
    });

    it('acks, renews and lapses leases; a lapsed task is queued again and counts an attempt', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      const b = s.store.assignNext('v2', T0, OFFER)!;
      expect(a.task).toMatchObject({ status: 'running', attempts: 1 });
      expect(s.store.ack(a.assignment.id, T0 + 10, LEASE)).toMatchObject({
        status: 'acked',
        ackedAt: T0 + 10,
      });
      expect(s.store.ack(a.assignment.id, T0 + 11, LEASE)).toBeNull(); // already acked
      expect(s.store.renew('v1', [a.assignment.id, 'asg_unknown'], T0 + 3000, LEASE)).toEqual({
        renewed: [a.assignment.id],
        lost: ['asg_unknown'],
      });
      expect(s.store.renew('v2', [a.assignment.id], T0 + 3000, LEASE).lost).toEqual([a.assignment.id]);
      // b was never acked: its offer lapses first; a's renewed lease later.
      const first = s.store.lapseExpired(T0 + OFFER + 1);
      expect(first.map((e) => [e.assignment.id, e.assignment.status, e.assignment.outcome])).toEqual([
        [b.assignment.id, 'lapsed', 'ack_timeout'],
      ]);
      expect(first[0]!.task).toMatchObject({ id: b.task.id, status: 'queued', attempts: 1 });
      const second = s.store.lapseExpired(T0 + 3000 + LEASE + 1);
      expect(second.map((e) => e.assignment.outcome)).toEqual(['lease_expired']);
      expect(s.store.queuedCount).toBe(2);
      const again = s.store.assignNext('v3', T0 + 9000, OFFER)!;
      expect(again.task.attempts).toBe(2);
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view!.tasks.find((t) => t.id === again.task.id)).toMatchObject({
        status: 'running',
        attempts: 2,
        timings: { assignedAt: T0 + 9000 },
      });
    });

    it('completes a task once: the first result wins, a replay is a duplicate, other leases are superseded', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(1), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      s.store.ack(a.assignment.id, T0 + 5, LEASE);
      // Its lease lapses; the task goes to v2; v1's late result still wins (a late result beats a re-run).
      s.store.lapseExpired(T0 + LEASE + 100);
      const b = s.store.assignNext('v2', T0 + LEASE + 200, OFFER)!;
      expect(b.task.id).toBe(a.task.id);
      const done = s.store.complete(a.assignment.id, 'v1', box(0.9), 42, T0 + LEASE + 300);
      expect(done.kind).toBe('accepted');
      if (done.kind !== 'accepted') return;
      expect(done.task).toMatchObject({ status: 'done', resultAssignmentId: a.assignment.id });
      expect(done.superseded.map((x) => [x.id, x.status])).toEqual([[b.assignment.id, 'superseded']]);
      expect(s.store.complete(a.assignment.id, 'v1', box(0.1), 1, T0 + LEASE + 400).kind).toBe('duplicate');
      expect(s.store.complete(b.assignment.id, 'v2', box(0.2), 1, T0 + LEASE + 400)).toMatchObject({
        kind: 'duplicate',
      });
      expect(s.store.complete(a.assignment.id, 'v9', box(0.2), 1, T0 + LEASE + 400)).toMatchObject({
        kind: 'rejected',
        code: 'not_holder',
      });
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view).toMatchObject({ status: 'done' });
      expect(view!.tasks[0]).toMatchObject({ status: 'done', detections: box(0.9), attempts: 2 });
    });

    it("releases a departed volunteer's leases and fails a task after its attempts", async () => {
      const s = await start();
      await s.store.createJob(tasks(2), T0);
      await s.settle();
      s.store.assignNext('v1', T0, OFFER);
      s.store.assignNext('v1', T0, OFFER);
      const ended = s.store.releaseVolunteer('v1', T0 + 1);
      expect(ended.map((e) => [e.assignment.outcome, e.task.status])).toEqual([
        ['volunteer_left', 'queued'],
        ['volunteer_left', 'queued'],
      ]);
      // Two more lapses each: the third lost attempt fails the task.
      for (let round = 0; round < 2; round++) {
        s.store.assignNext('v2', T0 + 10, OFFER);
        s.store.assignNext('v3', T0 + 10, OFFER);
        s.store.lapseExpired(T0 + 10 + OFFER + 1);
      }
      const failed = s.store.getTask(ended[0]!.task.id)!;
      expect(failed).toMatchObject({ status: 'failed', errorCode: 'attempts_exhausted', attempts: 3 });
      expect(s.store.queuedCount).toBe(0);
    });

    it('with a referee, lost leases and reports that do not count never fail a task (rule T13)', async () => {
      const s = await start(REFEREED);
      await s.store.createJob(tasks(1), T0);
      await s.settle();
      // Far more losses than maxAttempts (3), each by another identity, every way a lease is lost.
      for (let i = 0; i < 4; i++) {
        const t = T0 + i * 10 * OFFER;
        const a = s.store.assignNext(`left-${i}`, t, OFFER)!;
        expect(s.store.releaseVolunteer(`left-${i}`, t + 1)[0]!.task.status).toBe('queued');
        const b = s.store.assignNext(`silent-${i}`, t + 2, OFFER)!;
        expect(b.task.id).toBe(a.task.id);
        expect(s.store.lapseExpired(t + 3 + OFFER)[0]!.task.status).toBe('queued');
        const c = s.store.assignNext(`decliner-${i}`, t + 4 + OFFER, OFFER)!;
        const r = s.store.reportFailure(
          c.assignment.id,
          `decliner-${i}`,
          'inference_failed',
          'no',
          t + 5 + OFFER,
          false,
        );
        expect(r).toMatchObject({ kind: 'recorded', task: { status: 'queued' } });
      }
      const task = s.store.getTask(s.store.assignNext('last', T0 + 50 * OFFER, OFFER)!.task.id)!;
      expect(task).toMatchObject({ status: 'running', attempts: 13, failureReports: 0 });
      // Its deadline still fails it.
      s.store.releaseVolunteer('last', T0 + POLICY.taskDeadlineMs + 1);
      expect(s.store.getTask(task.id)).toMatchObject({ status: 'failed', errorCode: 'deadline_exceeded' });
    });

    it('fails a task the referee cannot run, ending its leases; a finished task stays (rule T13)', async () => {
      const s = await start(REFEREED);
      const job = await s.store.createJob(tasks(3), T0);
      await s.settle();
      const running = s.store.assignNext('v1', T0, OFFER)!;
      const failure = { code: 'undecodable' as const, message: 'the referee could not decode it' };
      const failed = s.store.failTask(running.task.id, failure, T0 + 1)!;
      expect(failed.task).toMatchObject({ status: 'failed', errorCode: 'undecodable' });
      expect(failed.leases.map((a) => [a.id, a.status])).toEqual([[running.assignment.id, 'released']]);
      const queued = job.tasks.find((t) => t.id !== running.task.id)!.id;
      expect(s.store.failTask(queued, failure, T0 + 2)!.leases).toEqual([]);
      expect(s.store.queuedCount).toBe(1);
      expect(s.store.failTask(queued, failure, T0 + 3)).toBeNull(); // already failed
      const last = s.store.assignNext('v2', T0 + 4, OFFER)!;
      s.store.complete(last.assignment.id, 'v2', box(0.9), 1, T0 + 5);
      expect(s.store.failTask(last.task.id, failure, T0 + 6)).toBeNull();
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view!.tasks.map((t) => t.status).sort()).toEqual(['done', 'failed', 'failed']);
    });

    it('skips the tasks a caller keeps from a volunteer, leaving them queued for others (rule T13)', async () => {
      const s = await start(REFEREED);
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const [first, second] = job.tasks.map((t) => t.id);
      const keep = (id: string) => id === first;
      expect(s.store.assignNext('v1', T0, OFFER, keep)!.task.id).toBe(second);
      expect(s.store.assignNext('v1', T0, OFFER, keep)).toBeNull();
      expect(s.store.queuedCount).toBe(1);
      expect(s.store.assignNext('v2', T0, OFFER)!.task.id).toBe(first);
    });

    it('reports of failure exclude the reporter and fail the task after enough of them', async () => {
      const s = await start();
      await s.store.createJob(tasks(1), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      const r = s.store.reportFailure(a.assignment.id, 'v1', 'undecodable', 'bad jpeg', T0 + 1);
      expect(r).toMatchObject({ kind: 'recorded', task: { status: 'queued', failureReports: 1 } });
      expect(s.store.assignNext('v1', T0 + 2, OFFER)).toBeNull(); // excluded
      const b = s.store.assignNext('v2', T0 + 2, OFFER)!;
      expect(s.store.reportFailure(b.assignment.id, 'v1', 'undecodable', 'x', T0 + 3).kind).toBe('rejected');
      const r2 = s.store.reportFailure(b.assignment.id, 'v2', 'undecodable', 'bad jpeg', T0 + 3);
      expect(r2).toMatchObject({ kind: 'recorded', task: { status: 'failed', errorCode: 'undecodable' } });
    });

    it('verification: a replicate mark runs the task again elsewhere; finalize settles it; a published result can be reopened', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      const rep = s.store.complete(a.assignment.id, 'v1', box(0.8), 10, T0 + 1, 'replicate');
      expect(rep).toMatchObject({
        kind: 'accepted',
        task: { status: 'queued' },
        assignment: { status: 'completed' },
      });
      const other = s.store.assignNext('v1', T0 + 2, OFFER)!; // not the replicated one again
      expect(other.task.id).not.toBe(a.task.id);
      const replica = s.store.assignNext('v2', T0 + 2, OFFER)!;
      expect(replica.task.id).toBe(a.task.id);
      const fin = s.store.finalize(
        a.task.id,
        box(0.8),
        a.assignment.id,
        { verification: 'replicated', agreeing: 2 },
        T0 + 3,
      );
      expect(fin!.task).toMatchObject({ status: 'done', verification: 'replicated', agreeing: 2 });
      expect(fin!.superseded.map((x) => x.id)).toEqual([replica.assignment.id]);
      expect(
        s.store.finalize(a.task.id, box(0.1), null, { verification: 'refereed', agreeing: 1 }, T0 + 4),
      ).toBeNull();

      // A trusted volunteer's result, final alone, is reopened when it is caught cheating.
      const t = s.store.complete(other.assignment.id, 'v1', box(0.5), 10, T0 + 5, {
        verification: 'trusted',
        agreeing: 1,
      });
      expect(t).toMatchObject({ kind: 'accepted', task: { status: 'done', verification: 'trusted' } });
      // Both of v1's published results are found, the replicated one too (rule V7).
      expect(s.store.publishedResultsOf('v1').sort()).toEqual([a.assignment.id, other.assignment.id].sort());
      expect(s.store.publishedResultsOf('v2')).toEqual([]);
      const reopened = s.store.reopen([other.assignment.id]);
      expect(reopened.map((r) => [r.id, r.status, r.detections])).toEqual([[other.task.id, 'queued', null]]);
      expect(s.store.reopen([other.assignment.id])).toEqual([]);
      await s.settle();
      expect(s.store.assignNext('v1', T0 + 6, OFFER)).toBeNull(); // the cheat is excluded
      const redo = s.store.assignNext('v3', T0 + 6, OFFER)!;
      expect(redo.task.id).toBe(other.task.id);
      s.store.complete(redo.assignment.id, 'v3', box(0.7), 10, T0 + 7);
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view!.tasks.map((x) => [x.status, x.verification, x.detections[0]?.score])).toEqual([
        ['done', 'replicated', 0.8],
        ['done', null, 0.7],
      ]);
    });

    it("keeps the inference time of what was published: a volunteer's, or the referee's own run (V8)", async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      s.store.complete(a.assignment.id, 'v1', box(0.8), 10, T0 + 1, 'replicate');
      const refereed = { verification: 'refereed' as const, agreeing: 2 };
      const fin = s.store.finalize(a.task.id, box(0.8), null, refereed, T0 + 3, { refereeMs: 42 });
      expect(fin!.task).toMatchObject({ status: 'done', resultAssignmentId: null, refereeMs: 42 });
      const b = s.store.assignNext('v2', T0 + 4, OFFER)!;
      s.store.complete(b.assignment.id, 'v2', box(0.5), 17, T0 + 5, { verification: 'trusted', agreeing: 1 });
      await s.settle();
      const timings = async (store: SchedulingStore) =>
        (await store.getJob(job.id))!.tasks.map((t) => [t.name, t.timings.inferenceMs]);
      const expected = [
        [a.task.name, 42],
        [b.task.name, 17],
      ].sort();
      expect((await timings(s.store)).sort()).toEqual(expected);
      const r = await s.restart();
      opened.push(r);
      expect((await timings(r.store)).sort()).toEqual(expected);
    });

    it('pairs a running task with its replica: both leases run, the first result waits, the second settles it (rule V3)', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      const queued = job.tasks.find((t) => t.id !== a.task.id)!;
      expect(s.store.assignReplica(queued.id, 'v2', T0, OFFER)).toBeNull(); // not running: no pair
      const r = s.store.assignReplica(a.task.id, 'v2', T0 + 1, OFFER)!;
      expect(r.task).toMatchObject({ id: a.task.id, status: 'running', attempts: 2 });
      expect(r.assignment).toMatchObject({ taskId: a.task.id, volunteerId: 'v2', status: 'offered' });
      expect(s.store.ack(r.assignment.id, T0 + 2, LEASE)).toMatchObject({ status: 'acked' });
      expect(s.store.renew('v2', [r.assignment.id], T0 + 3, LEASE).renewed).toEqual([r.assignment.id]);
      // The first result waits for its replica: the task keeps running, nothing is queued again.
      const first = s.store.complete(a.assignment.id, 'v1', box(0.8), 10, T0 + 4, 'replicate');
      expect(first).toMatchObject({ kind: 'accepted', task: { status: 'running' } });
      expect(s.store.queuedCount).toBe(1);
      expect(s.store.assignReplica(a.task.id, 'v1', T0 + 4, OFFER)).toBeNull(); // its sender is excluded
      const mark = { verification: 'replicated', agreeing: 2 } as const;
      const second = s.store.complete(r.assignment.id, 'v2', box(0.8), 12, T0 + 5, mark);
      expect(second).toMatchObject({
        kind: 'accepted',
        task: { status: 'done', verification: 'replicated', resultAssignmentId: r.assignment.id },
        superseded: [],
      });
      expect(s.store.assignReplica(a.task.id, 'v3', T0 + 6, OFFER)).toBeNull(); // done: no pair

      // One of a pair leaves: the other still runs the task; once it leaves too, the task is queued.
      const b = s.store.assignNext('v3', T0 + 7, OFFER)!;
      const rb = s.store.assignReplica(b.task.id, 'v4', T0 + 7, OFFER)!;
      expect(s.store.releaseVolunteer('v4', T0 + 8).map((e) => e.task.status)).toEqual(['running']);
      expect(s.store.queuedCount).toBe(0);
      expect(s.store.getAssignment(rb.assignment.id)).toMatchObject({ status: 'released' });
      expect(s.store.release(b.assignment.id, 'volunteer_left', T0 + 9)!.task.status).toBe('queued');
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view!.tasks.find((t) => t.id === a.task.id)).toMatchObject({ status: 'done', attempts: 2 });
    });

    it('backtracking reaches trusted results this process no longer holds (after a restart)', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const trusted = { verification: 'trusted', agreeing: 1 } as const;
      const lie = s.store.assignNext('v1', T0, OFFER)!;
      s.store.complete(lie.assignment.id, 'v1', box(0.5), 10, T0 + 1, trusted);
      const honest = s.store.assignNext('v2', T0, OFFER)!;
      s.store.complete(honest.assignment.id, 'v2', box(0.6), 10, T0 + 1, trusted);
      await s.settle();

      // SQLite reads every result back from its database; Redis from the shared trusted index.
      const r = await s.restart();
      opened.push(r);
      const local = r.store.publishedResultsOf('v1');
      const here = r.store.reopen(local);
      const elsewhere = await r.store.reopenElsewhere('v1');
      const reopened = [...here, ...elsewhere.reopened];
      expect(reopened.map((t) => [t.id, t.status, t.detections])).toEqual([[lie.task.id, 'queued', null]]);
      expect([...here.map(() => lie.assignment.id), ...elsewhere.revoked]).toEqual([lie.assignment.id]);
      // Once only: a second search finds nothing left to reopen.
      expect(r.store.reopen(r.store.publishedResultsOf('v1'))).toEqual([]);
      expect((await r.store.reopenElsewhere('v1')).reopened).toEqual([]);

      await r.settle();
      expect(r.store.assignNext('v1', T0 + 2, OFFER)).toBeNull(); // the cheat is excluded
      const redo = r.store.assignNext('v3', T0 + 2, OFFER)!;
      expect(redo.task.id).toBe(lie.task.id);
      r.store.complete(redo.assignment.id, 'v3', box(0.7), 10, T0 + 3);
      await r.settle();
      const view = await r.store.getJob(job.id);
      const byId = new Map(view!.tasks.map((t) => [t.id, t]));
      expect(byId.get(lie.task.id)).toMatchObject({ status: 'done', verification: null });
      expect(byId.get(lie.task.id)!.detections[0]?.score).toBe(0.7);
      expect(byId.get(honest.task.id)).toMatchObject({ status: 'done', verification: 'trusted' });
      expect(view!.status).toBe('done');
    });

    it('backtracking reaches every result a volunteer published, however verified; one it only agreed with stays (issue 17 C)', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(5), T0);
      await s.settle();
      // v1's results published as replicated (after a replica), refereed, spot-checked, trusted:
      // each a tampered result that agreed within the tolerance.
      const marks = [
        { verification: 'replicated', agreeing: 2 },
        { verification: 'refereed', agreeing: 2 },
        { verification: 'spot-checked', agreeing: 2 },
        { verification: 'trusted', agreeing: 1 },
      ] as const;
      const liar: { task: string; assignment: string }[] = [];
      for (const mark of marks) {
        const a = s.store.assignNext('v1', T0, OFFER)!;
        if (mark.verification === 'trusted') {
          s.store.complete(a.assignment.id, 'v1', box(0.5), 10, T0 + 1, mark);
        } else {
          s.store.complete(a.assignment.id, 'v1', box(0.5), 10, T0 + 1, 'replicate');
          s.store.finalize(a.task.id, box(0.5), a.assignment.id, mark, T0 + 2);
        }
        liar.push({ task: a.task.id, assignment: a.assignment.id });
      }
      // v1 only agreed with v2's published result: it stays.
      const own = s.store.assignNext('v1', T0, OFFER)!;
      s.store.complete(own.assignment.id, 'v1', box(0.5), 10, T0 + 1, 'replicate');
      const theirs = s.store.assignNext('v2', T0 + 1, OFFER)!;
      expect(theirs.task.id).toBe(own.task.id);
      s.store.complete(theirs.assignment.id, 'v2', box(0.6), 10, T0 + 3, {
        verification: 'replicated',
        agreeing: 2,
      });
      await s.settle();

      // Caught, after a restart (SQLite reads its database again; Redis its shared index).
      const r = await s.restart();
      opened.push(r);
      const here = r.store.reopen(r.store.publishedResultsOf('v1'));
      const elsewhere = await r.store.reopenElsewhere('v1');
      const reopened = [...here, ...elsewhere.reopened];
      expect(reopened.map((t) => t.id).sort()).toEqual(liar.map((l) => l.task).sort());
      expect(reopened.every((t) => t.status === 'queued' && t.detections === null)).toBe(true);
      expect(r.store.publishedResultsOf('v1')).toEqual([]);
      await r.settle();
      const view = await r.store.getJob(job.id);
      const byId = new Map(view!.tasks.map((t) => [t.id, t]));
      expect(byId.get(own.task.id)).toMatchObject({ status: 'done', verification: 'replicated' });
      expect(byId.get(own.task.id)!.detections[0]?.score).toBe(0.6);
      for (const l of liar) expect(byId.get(l.task)).toMatchObject({ status: 'queued', verification: null });
      // Re-verified without it: the liar is never offered them again, someone else is.
      expect(r.store.assignNext('v1', T0 + 4, OFFER)).toBeNull();
      const redo = new Set<string>();
      for (let i = 0; i < liar.length; i++) redo.add(r.store.assignNext(`v${i + 3}`, T0 + 4, OFFER)!.task.id);
      expect([...redo].sort()).toEqual(liar.map((l) => l.task).sort());
    });

    it('backtracking reaches a pair through either member: the first one caught reopens the task (V7a)', async () => {
      const s = await start();
      await s.store.createJob(tasks(2), T0);
      await s.settle();
      // v1 (then v3) sent the first result, v2 (then v4) completed the pair and is named for it.
      const pair = (first: string, second: string) => {
        const a = s.store.assignNext(first, T0, OFFER)!;
        s.store.complete(a.assignment.id, first, box(0.5), 10, T0 + 1, 'replicate');
        const b = s.store.assignNext(second, T0 + 1, OFFER)!;
        expect(b.task.id).toBe(a.task.id);
        const mark = { verification: 'replicated', agreeing: 2, pairAssignmentId: a.assignment.id } as const;
        s.store.complete(b.assignment.id, second, box(0.6), 10, T0 + 2, mark);
        return { task: a.task.id, first: a.assignment.id };
      };
      const here = pair('v1', 'v2');
      const later = pair('v3', 'v4');
      await s.settle();

      // Caught in this process: its result is found and the task reopened, agreeing cleared.
      expect(s.store.publishedResultsOf('v1')).toEqual([here.first]);
      expect(s.store.reopen([here.first]).map((t) => [t.id, t.status, t.agreeing])).toEqual([
        [here.task, 'queued', 0],
      ]);
      expect(s.store.publishedResultsOf('v2')).toEqual([]);
      await s.settle();

      // Caught after a restart (SQLite reads its database again; Redis its shared index).
      const r = await s.restart();
      opened.push(r);
      const found = r.store.publishedResultsOf('v3');
      const local = r.store.reopen(found);
      const elsewhere = await r.store.reopenElsewhere('v3');
      expect([...local, ...elsewhere.reopened].map((t) => t.id)).toEqual([later.task]);
      expect([...found, ...elsewhere.revoked]).toEqual([later.first]);
      // Never offered to it again; the first task, reopened without v1, is.
      expect(r.store.assignNext('v3', T0 + 3, OFFER)?.task.id).toBe(here.task);
      expect(r.store.assignNext('v3', T0 + 3, OFFER)).toBeNull();
    });

    it("backtracking leaves a deleted job's tasks alone (nobody will read them again)", async () => {
      const s = await start();
      const kept = await s.store.createJob(tasks(1), T0);
      const gone = await s.store.createJob(tasks(1), T0);
      await s.settle();
      const trusted = { verification: 'trusted', agreeing: 1 } as const;
      const lies = [s.store.assignNext('v1', T0, OFFER)!, s.store.assignNext('v1', T0, OFFER)!];
      for (const l of lies) s.store.complete(l.assignment.id, 'v1', box(0.1), 1, T0 + 1, trusted);
      await s.settle();
      await s.store.markDeleted(gone.id, T0 + 2);

      const r = await s.restart(); // each store finds them its own way (memory, database, index)
      opened.push(r);
      const local = r.store.publishedResultsOf('v1');
      const here = r.store.reopen(local);
      const elsewhere = await r.store.reopenElsewhere('v1');
      expect([...here, ...elsewhere.reopened].map((t) => t.jobId)).toEqual([kept.id]);
      expect((await r.store.getJob(gone.id))!.status).toBe('done');
    });

    it('cancels a job: unfinished tasks fail, their leases end, finished results stay', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(3), T0);
      const keep = await s.store.createJob(tasks(1), T0);
      await s.settle();
      const picks = [0, 1, 2, 3].map((i) => s.store.assignNext(`v${i}`, T0, OFFER)!);
      const ofJob = picks.filter((p) => p.task.jobId === job.id);
      s.store.complete(ofJob[0]!.assignment.id, ofJob[0]!.assignment.volunteerId, box(0.9), 1, T0 + 1);
      s.store.releaseVolunteer(ofJob[2]!.assignment.volunteerId, T0 + 1); // queued again
      const { tasks: cancelled, leases } = s.store.cancelJob(job.id, T0 + 2);
      expect(cancelled.map((t) => [t.status, t.errorCode])).toEqual([
        ['failed', 'cancelled'],
        ['failed', 'cancelled'],
      ]);
      expect(leases.map((l) => [l.id, l.status, l.outcome])).toEqual([
        [ofJob[1]!.assignment.id, 'released', 'cancelled'],
      ]);
      expect(s.store.cancelJob(job.id, T0 + 3).tasks).toEqual([]); // idempotent
      await s.settle();
      const view = await s.store.getJob(job.id);
      expect(view!.status).toBe('failed');
      expect(view!.tasks.map((t) => t.status).sort()).toEqual(['done', 'failed', 'failed']);
      expect((await s.store.getJob(keep.id))!.tasks[0]!.status).toBe('running');
    });

    it('fails queued tasks past their deadline', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(2), T0);
      await s.settle();
      const running = s.store.assignNext('v1', T0, OFFER)!;
      expect(s.store.failOverdue(T0 + POLICY.taskDeadlineMs - 1)).toEqual([]);
      const overdue = s.store.failOverdue(T0 + POLICY.taskDeadlineMs + 1);
      expect(overdue.map((t) => [t.status, t.errorCode])).toEqual([['failed', 'deadline_exceeded']]);
      expect(overdue[0]!.id).not.toBe(running.task.id);
      await s.settle();
      expect((await s.store.getJob(job.id))!.tasks.map((t) => t.status).sort()).toEqual([
        'failed',
        'running',
      ]);
    });

    it('recovers after a restart: running tasks are queued again, results and jobs stay', async () => {
      const s = await start();
      const job = await s.store.createJob(tasks(3), T0);
      await s.settle();
      const a = s.store.assignNext('v1', T0, OFFER)!;
      const b = s.store.assignNext('v2', T0, OFFER)!;
      s.store.ack(b.assignment.id, T0 + 1, LEASE);
      s.store.complete(a.assignment.id, 'v1', box(0.9), 5, T0 + 2);
      await s.settle();
      const again = await s.restart();
      opened.push(again);
      // Redis wrote the lease behind and lapses it; SQLite never wrote it (leases in memory only).
      expect(again.recovered.queued).toBe(2);
      expect(again.recovered.lapsed).toBeLessThanOrEqual(1);
      await again.settle();
      expect(again.store.queuedCount).toBe(2);
      const view = await again.store.getJob(job.id);
      expect(view!.tasks.find((t) => t.id === a.task.id)).toMatchObject({
        status: 'done',
        detections: box(0.9),
      });
      const requeued = view!.tasks.find((t) => t.id === b.task.id)!;
      expect(requeued.status).toBe('queued');
      expect(requeued.attempts).toBeLessThanOrEqual(1); // an attempt in flight may be forgiven
      const ids = [
        again.store.assignNext('v3', T0 + 10, OFFER),
        again.store.assignNext('v4', T0 + 10, OFFER),
      ].map((n) => n!.task.id);
      expect(ids).toContain(b.task.id);
      expect(ids).not.toContain(a.task.id);
    });
  });
}
