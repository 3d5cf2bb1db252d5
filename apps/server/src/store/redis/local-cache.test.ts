import { describe, expect, it } from 'vitest';
import type { CacheSink, PutOptions } from './cache-sink';
import { LocalCache } from './local-cache';
import { newStoredTasks, type StoredTask } from './stored-task';

const POLICY = { maxAttempts: 3, maxFailureReports: 2, taskDeadlineMs: 60_000 };

/** Records what the cache hands to the write-behind (the Redis side is covered in test/contracts). */
class Recorder implements CacheSink {
  readonly puts: { id: string; status: string; options: PutOptions }[] = [];
  put(task: StoredTask, options: PutOptions = {}): void {
    this.puts.push({ id: task.id, status: task.status, options });
  }
}

const stored = (id: string, jobId = 'job_1'): StoredTask => ({
  ...newStoredTasks(
    jobId,
    [{ name: `${id}.jpg`, imageSha256: 'a'.repeat(64), mime: 'image/jpeg', width: 1, height: 1 }],
    0,
    0,
  )[0]!,
  id,
});

describe('LocalCache', () => {
  it('a finished task redelivered before its result is stored is not run again', () => {
    const sink = new Recorder();
    const cache = new LocalCache(POLICY, sink);
    expect(cache.admit(stored('t1'), '1-0', 'alice')).toBe('cached');
    const offer = cache.assignNext('v1', 10, 1000)!;
    cache.complete(offer.assignment.id, 'v1', [], 5, 20);
    expect(sink.puts.at(-1)).toMatchObject({ id: 't1', status: 'done', options: { ackEntry: '1-0' } });
    // Redis still says `running` (the write is behind): the redelivery must not reopen it.
    expect(cache.admit({ ...stored('t1'), status: 'running' }, '2-0', 'alice')).toBe('final');
    expect(cache.queuedCount).toBe(0);
    expect(cache.admit(stored('t2'), '3-0', 'alice')).toBe('cached');
    expect(cache.admit(stored('t2'), '4-0', 'alice')).toBe('duplicate');
  });

  it('indexes published results for Redis, however verified, and forgets them with their tasks (memory stays bounded)', () => {
    const sink = new Recorder();
    const cache = new LocalCache(POLICY, sink);
    const marks = [
      { verification: 'trusted', agreeing: 1 },
      { verification: 'replicated', agreeing: 2 },
      { verification: 'refereed', agreeing: 2 },
      { verification: 'spot-checked', agreeing: 2 },
    ] as const;
    const ids: string[] = [];
    // One more than the finished tasks a cache keeps: the first is forgotten.
    for (let i = 0; i <= 20_000; i++) {
      cache.admit(stored(`t${i}`), `${i}-0`, 'alice');
      const offer = cache.assignNext('v1', i, 1000)!;
      cache.complete(offer.assignment.id, 'v1', [], 5, i, marks[i % marks.length]);
      ids.push(offer.assignment.id);
    }
    expect(sink.puts.at(-1)!.options.trusted).toEqual([
      { volunteerId: 'v1', jobId: 'job_1', taskId: 't20000', assignmentId: ids.at(-1) },
    ]);
    const held = cache.publishedResultsOf('v1');
    expect(held).toHaveLength(20_000);
    expect(held).not.toContain(ids[0]); // found through Redis' index now (reopenElsewhere)
    expect(cache.reopen(held)).toHaveLength(20_000);
    expect(cache.publishedResultsOf('v1')).toEqual([]);
    // 20,000 tasks: 3 s on a quiet machine, 8 s at load 20.
  }, 30_000);

  it('gives back queued surplus, but keeps a task waiting for its verification replica', () => {
    const sink = new Recorder();
    const cache = new LocalCache(POLICY, sink);
    cache.admit(stored('t1'), '1-0', 'alice');
    cache.admit(stored('t2'), '2-0', 'alice');
    const first = cache.assignNext('v1', 10, 1000)!;
    cache.complete(first.assignment.id, 'v1', [], 5, 20, 'replicate'); // queued again, excluded for v1
    expect(cache.queuedCount).toBe(2);
    expect(cache.giveBack(2)).toBe(1);
    const back = sink.puts.at(-1)!;
    expect(back).toMatchObject({ status: 'queued', options: { enqueue: true } });
    expect(back.id).not.toBe(first.task.id);
    expect(cache.queuedCount).toBe(1);
    expect(cache.assignNext('v1', 30, 1000)).toBeNull();
    expect(cache.assignNext('v2', 30, 1000)!.task.id).toBe(first.task.id);
  });

  it("keeps a job's owner only while it has unfinished tasks here (bounded by them)", () => {
    const cache = new LocalCache(POLICY, new Recorder());
    // 1,000 jobs pass through: each task runs and finishes, fails, or is given back.
    for (let i = 0; i < 1000; i++) {
      cache.admit(stored(`t${i}`, `job_${i}`), `${i}-0`, `owner-${i % 7}`);
      if (i % 3 === 0) {
        const offer = cache.assignNext('v1', i, 1000)!;
        cache.complete(offer.assignment.id, 'v1', [], 5, i);
      } else if (i % 3 === 1) {
        cache.failOverdue(i + 120_000);
      } else cache.giveBack(1);
    }
    expect(cache.unfinishedCount).toBe(0);
    expect(cache.ownersKept).toBe(0);
    // Two unfinished tasks of one job: its owner stays until the last one finishes.
    cache.admit(stored('a', 'job_x'), 'a-0', 'alice');
    cache.admit(stored('b', 'job_x'), 'b-0', 'alice');
    expect(cache.ownersKept).toBe(1);
    const a = cache.assignNext('v1', 0, 1000)!;
    cache.complete(a.assignment.id, 'v1', [], 5, 1);
    expect(cache.ownersKept).toBe(1);
    const b = cache.assignNext('v1', 2, 1000)!;
    cache.complete(b.assignment.id, 'v1', [], 5, 3);
    expect(cache.ownersKept).toBe(0);
  });
});
