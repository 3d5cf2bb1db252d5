import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';
import {
  decodeCursor,
  encodeCursor,
  jobSummary,
  type JobAccess,
  type JobAccessRow,
  type RecentVisible,
  type StatusCounts,
} from './job-access';
import { RecentResults } from '../store/redis';

const STATUSES = ['queued', 'running', 'done', 'failed'] as const;
const META_FIELDS = ['id', 'owner', 'public', 'deletedAt', 'createdAt', 'cancelledAt', 'expected'] as const;
const numberOrNull = (v: string | null | undefined) => (v ? Number(v) : null);

const countsOf = (values: (string | null)[]): StatusCounts => ({
  queued: Number(values[0] ?? 0),
  running: Number(values[1] ?? 0),
  done: Number(values[2] ?? 0),
  failed: Number(values[3] ?? 0),
});

/** Replies of a pipeline, or its first error. */
function repliesOf(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('Redis pipeline aborted');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * `JobAccess` on Redis, for every gateway: the owner and visibility are fields of the job's
 * hash the scheduling store writes with the job (`tg:{job:ID}:meta`), a deletion adds
 * `deletedAt` to it (`HSETNX`, so the first deletion's time stays), and an owner's jobs are a
 * sorted set by creation sequence (`tg:owner:<name>:jobs`, written in the same transaction as
 * the job). Counts come from the job's `tg:{job:ID}:counts`. Read only: the store writes them.
 *
 * The recent results of the `/live` snapshot come from a capped list every gateway pushes to
 * (`RecentResults`).
 */
export class RedisJobAccess implements JobAccess {
  private readonly recent: RecentResults;

  constructor(private readonly redis: Redis) {
    this.recent = new RecentResults(redis);
  }

  async get(jobId: string): Promise<JobAccessRow | null> {
    const [id, owner, isPublic, deletedAt, , cancelledAt, expected] = await this.redis.hmget(
      redisKeys.jobMeta(jobId),
      ...META_FIELDS,
    );
    if (id === null) return null;
    return {
      id: jobId,
      owner: owner || null,
      isPublic: isPublic === '1',
      deletedAt: numberOrNull(deletedAt),
      cancelledAt: numberOrNull(cancelledAt),
      expected: numberOrNull(expected),
    };
  }

  async owns(requester: string, jobId: string): Promise<boolean> {
    const owner = await this.redis.hget(redisKeys.jobMeta(jobId), 'owner');
    return owner != null && owner !== '' && owner === requester;
  }

  async unfinishedTasks(requester: string): Promise<number> {
    const ids = await this.redis.zrange(redisKeys.ownerJobs(requester), 0, -1);
    if (ids.length === 0) return 0;
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(redisKeys.jobCounts(id), 'queued', 'running');
    return repliesOf(await pipe.exec()).reduce<number>((sum, v) => {
      const [queued, running] = v as (string | null)[];
      return sum + Number(queued ?? 0) + Number(running ?? 0);
    }, 0);
  }

  async list(requester: string, limit: number, cursor: string | null) {
    const before = cursor === null ? '+inf' : `(${decodeCursor(cursor)}`;
    const page = await this.redis.zrevrangebyscore(
      redisKeys.ownerJobs(requester),
      before,
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit + 1,
    );
    const rows: { id: string; seq: number }[] = [];
    for (let i = 0; i < page.length; i += 2) rows.push({ id: page[i]!, seq: Number(page[i + 1]) });
    const shown = rows.slice(0, limit);
    const pipe = this.redis.pipeline();
    for (const { id } of shown) {
      pipe.hmget(redisKeys.jobMeta(id), ...META_FIELDS);
      pipe.hmget(redisKeys.jobCounts(id), ...STATUSES);
    }
    const replies = shown.length > 0 ? repliesOf(await pipe.exec()) : [];
    const jobs = shown.map(({ id }, i) => {
      const meta = replies[2 * i] as (string | null)[];
      return jobSummary(
        {
          id,
          createdAt: Number(meta[4] ?? 0),
          isPublic: meta[2] === '1',
          deletedAt: numberOrNull(meta[3]),
          cancelledAt: numberOrNull(meta[5]),
          expected: numberOrNull(meta[6]),
        },
        countsOf(replies[2 * i + 1] as (string | null)[]),
      );
    });
    const last = shown.at(-1);
    return { jobs, nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
  }

  /**
   * From the results completed on any gateway (`RecentResults`: the newest 200; their tasks read
   * at most once a second, their jobs' visibility and deletion on every call): those of public
   * jobs, and the viewer's own, of jobs not deleted. A viewer's own
   * private results older than that window are not shown (SQLite mode looks further back).
   */
  async recentVisible(viewer: string | null, limit: number): Promise<RecentVisible[]> {
    const entries = await this.recent.read();
    return entries
      .filter((e) => e.deletedAt === null && (e.isPublic || (viewer !== null && e.owner === viewer)))
      .slice(0, limit)
      .map(({ result, owner, isPublic }) => ({ taskId: result.task.id, owner, isPublic, result }));
  }
}
