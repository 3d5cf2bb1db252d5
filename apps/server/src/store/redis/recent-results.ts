import type { Redis } from 'ioredis';
import { redisKeys } from '../../redis/keys';
import type { TaskRecord } from '../records';
import { decodeTask, recordOf } from './stored-task';

/** A done task's record with who produced it (no other gateway may hold it in memory). */
export interface RecentResult {
  task: TaskRecord;
  volunteerId: string | null;
  inferenceMs: number | null;
}

/** A recent result with its job's access fields, as read from Redis. */
export interface RecentEntry {
  result: RecentResult;
  owner: string | null;
  isPublic: boolean;
  deletedAt: number | null;
}

/** Replies of a pipeline, or its first error. */
function repliesOf(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('Redis pipeline aborted');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * The newest results over every gateway, for the `/live` snapshot in Redis mode. The scheduling
 * store's write-once script pushes `jobId taskId` on the capped list `tg:live:recent` when a task
 * becomes done (no extra round trip per task). Reading it:
 *
 * - the list and the listed tasks' current JSON (two round trips), kept once each, newest first,
 *   only those still done (a backtracked task is not); this part serves every read of the next
 *   `maxAgeMs`, so a burst of viewers costs one such read;
 * - on every read, fresh, the listed jobs' owner, visibility and deletion (one pipelined `HMGET`
 *   per job): a deleted job's results are never shown (PROTOCOL.md L2), not even for a second.
 *
 * Who may see which entry is decided per viewer by the caller.
 */
export class RecentResults {
  private last: { at: number; tasks: Promise<RecentResult[]> } | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly maxAgeMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<RecentEntry[]> {
    const tasks = await this.recentTasks();
    const jobIds = [...new Set(tasks.map((r) => r.task.jobId))];
    if (jobIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of jobIds) pipe.hmget(redisKeys.jobMeta(id), 'owner', 'public', 'deletedAt');
    const metas = new Map(
      repliesOf(await pipe.exec()).map((meta, i) => [jobIds[i]!, meta as (string | null)[]]),
    );
    return tasks.map((result) => {
      const [owner, isPublic, deletedAt] = metas.get(result.task.jobId)!;
      return {
        result,
        owner: owner || null,
        isPublic: isPublic === '1',
        deletedAt: deletedAt ? Number(deletedAt) : null,
      };
    });
  }

  private recentTasks(): Promise<RecentResult[]> {
    const at = this.now();
    if (this.last && at - this.last.at < this.maxAgeMs) return this.last.tasks;
    const current = { at, tasks: this.fetchTasks() };
    this.last = current;
    current.tasks.catch(() => {
      if (this.last === current) this.last = null; // a failed read is not served again
    });
    return current.tasks;
  }

  private async fetchTasks(): Promise<RecentResult[]> {
    const listed = await this.redis.lrange(redisKeys.recentResults, 0, -1);
    const order: string[] = [];
    const seen = new Set<string>();
    const byJob = new Map<string, string[]>();
    for (const item of listed) {
      const [jobId, taskId] = item.split(' ');
      if (!jobId || !taskId || seen.has(taskId)) continue;
      seen.add(taskId);
      order.push(taskId);
      byJob.set(jobId, [...(byJob.get(jobId) ?? []), taskId]);
    }
    if (order.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const [jobId, taskIds] of byJob) pipe.hmget(redisKeys.jobTasks(jobId), ...taskIds);
    const replies = repliesOf(await pipe.exec());
    const found = new Map<string, RecentResult>();
    [...byJob.values()].forEach((taskIds, i) => {
      const jsons = replies[i] as (string | null)[];
      taskIds.forEach((taskId, k) => {
        const task = jsons[k] ? decodeTask(jsons[k]) : null;
        if (task?.status !== 'done') return;
        const { volunteerId, inferenceMs } = task.view;
        found.set(taskId, { task: recordOf(task), volunteerId, inferenceMs });
      });
    });
    return order.flatMap((taskId) => found.get(taskId) ?? []);
  }
}
