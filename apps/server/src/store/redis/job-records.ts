import type { JobView } from '@tabgrid/protocol';
import type { Redis } from 'ioredis';
import { newId } from '../ids';
import type { JobAccessFields } from '../scheduling-store';
import { jobStatus, taskView } from '../views';
import type { CreatedJob } from '../scheduling-store';
import type { NewTask, TaskCounts, TaskRecord } from '../records';
import { KEYS } from './keys';
import type { RedisMeter } from './meter';
import { decodeTask, encodeTask, newStoredTasks, type StoredTask } from './stored-task';
import { redisKeys } from '../../redis/keys';
import { untilFreed } from '../../storage/redis-image-refs';

/** Redis is not connected: nothing was sent, so nothing was stored (`503 storage_unavailable`). */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'REDIS_UNAVAILABLE';
  constructor(status: string) {
    super(`REDIS_UNAVAILABLE: the Redis connection is ${status}`);
  }
}

function assertConnected(redis: Redis): void {
  if (redis.status !== 'ready') throw new RedisUnavailableError(redis.status);
}

/**
 * Stores tasks and their stream entries in one MULTI/EXEC. With AOF `appendfsync always`, EXEC
 * returns only once it is on disk: the caller may answer `201`.
 */
async function storeTasks(
  redis: Redis,
  meter: RedisMeter,
  jobId: string,
  created: StoredTask[],
  meta: Record<string, string | number> | null,
  seq: number | null,
): Promise<string[]> {
  const uses = new Map<string, number>();
  for (const t of created) uses.set(t.imageSha256, (uses.get(t.imageSha256) ?? 0) + 1);
  const images = [...uses.keys()];
  const multi = redis.multi();
  // Image references (access/redis-image-refs.ts): any removal of these images under way is read
  // in the same transaction that counts the new references (first reply).
  multi.mget(...images.map(redisKeys.imageFreeing));
  for (const [sha, n] of uses) {
    multi.hincrby(redisKeys.jobImages(jobId), sha, n);
    multi.hincrby(redisKeys.imageRefs, sha, n);
  }
  if (meta) multi.hset(KEYS.job(jobId), meta);
  multi.hset(KEYS.tasks(jobId), Object.fromEntries(created.map((t) => [t.id, encodeTask(t)])));
  multi.hset(KEYS.status(jobId), Object.fromEntries(created.map((t) => [t.id, 'queued'])));
  multi.hincrby(KEYS.jobCounts(jobId), 'queued', created.length);
  multi.hincrby(KEYS.counts, 'queued', created.length);
  if (seq !== null) multi.zadd(KEYS.jobs, seq, jobId);
  // The owner's job list (access/redis-job-access.ts), in the same transaction as the job.
  if (seq !== null && meta?.owner) multi.zadd(redisKeys.ownerJobs(String(meta.owner)), seq, jobId);
  multi.sadd(KEYS.images, ...images);
  for (const t of created) multi.hset(KEYS.taskJob(t.id), t.id, jobId);
  for (const t of created) multi.xadd(KEYS.stream, '*', 'j', jobId, 't', t.id);
  const replies = await multi.exec();
  meter.roundTrip(2 * created.length + 2 * uses.size + 7);
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('redis transaction aborted');
  const announced = replies[0]![1] as (string | null)[];
  const freeing = images.filter((_, i) => announced[i] != null);
  // Their bytes are being removed, or were: wait until that is over (the caller writes them
  // again). The tasks are stored already, so a failed wait must not fail the upload: the bytes
  // are written again at once instead.
  for (const sha of freeing) await untilFreed(redis, sha).catch(() => undefined);
  return freeing;
}

/** A new job with its tasks, all queued, durable before it returns. */
export async function createJob(
  redis: Redis,
  meter: RedisMeter,
  tasks: NewTask[],
  now: number,
  access: JobAccessFields,
): Promise<CreatedJob> {
  assertConnected(redis);
  const jobId = newId('job');
  const seq = await redis.incr(KEYS.jobSeq);
  meter.roundTrip();
  const created = newStoredTasks(jobId, tasks, 0, now);
  const meta = {
    id: jobId,
    seq,
    createdAt: now,
    owner: access.owner,
    public: access.isPublic ? 1 : 0,
    nextIdx: created.length,
  };
  const freeing = await storeTasks(redis, meter, jobId, created, meta, seq);
  return { id: jobId, tasks: created.map((t) => ({ id: t.id, name: t.name })), freeing };
}

/** Adds tasks to an existing job, numbered after its last, durable before it returns. */
export async function appendTasks(
  redis: Redis,
  meter: RedisMeter,
  jobId: string,
  tasks: NewTask[],
  now: number,
): Promise<CreatedJob> {
  assertConnected(redis);
  // Reserve the indices atomically (two uploads to one job at once get distinct ones).
  const end = await redis.hincrby(KEYS.job(jobId), 'nextIdx', tasks.length);
  meter.roundTrip();
  const created = newStoredTasks(jobId, tasks, end - tasks.length, now);
  const freeing = await storeTasks(redis, meter, jobId, created, null, null);
  return { id: jobId, tasks: created.map((t) => ({ id: t.id, name: t.name })), freeing };
}

/** The stored tasks of a job, in order, or null when there is no such job. */
export async function jobTasks(
  redis: Redis,
  meter: RedisMeter,
  jobId: string,
): Promise<{ createdAt: number; tasks: StoredTask[] } | null> {
  const [[, created], [, all]] = (await redis
    .pipeline()
    .hget(KEYS.job(jobId), 'createdAt')
    .hvals(KEYS.tasks(jobId))
    .exec()) as [[null, string | null], [null, string[]]];
  meter.roundTrip(2);
  if (created === null) return null;
  const tasks = all.map(decodeTask).sort((a, b) => a.idx - b.idx);
  return { createdAt: Number(created), tasks };
}

/**
 * The API view of a job; `fresher` overlays unfinished tasks with this gateway's state not yet
 * written (it is ahead of Redis by at most one pipeline).
 */
export async function getJob(
  redis: Redis,
  meter: RedisMeter,
  jobId: string,
  fresher: (taskId: string) => StoredTask | undefined = () => undefined,
): Promise<JobView | null> {
  const job = await jobTasks(redis, meter, jobId);
  if (!job) return null;
  const tasks = job.tasks.map((stored) => {
    // A final state in Redis wins (write-once): a local one may be a dropped duplicate.
    const final = stored.status === 'done' || stored.status === 'failed';
    const local = final ? undefined : fresher(stored.id);
    // …and so does a task reopened elsewhere since this gateway's copy (backtracking).
    const t = local && (local.reopened ?? 0) >= (stored.reopened ?? 0) ? local : stored;
    return taskView(t as TaskRecord, t.view.assignedAt, t.view.ackedAt, t.view.inferenceMs);
  });
  return { id: jobId, status: jobStatus(tasks), createdAt: job.createdAt, tasks };
}

export async function counts(redis: Redis, meter: RedisMeter): Promise<TaskCounts> {
  const raw = await redis.hgetall(KEYS.counts);
  meter.roundTrip();
  const n = (k: string) => Number(raw[k] ?? 0);
  return { queued: n('queued'), running: n('running'), done: n('done'), failed: n('failed') };
}

export async function queueDepth(redis: Redis, meter: RedisMeter): Promise<number> {
  const queued = await redis.hget(KEYS.counts, 'queued');
  meter.roundTrip();
  return Number(queued ?? 0);
}

/** Any stored task by id (found through the task → job index). */
export async function findTask(redis: Redis, meter: RedisMeter, taskId: string): Promise<StoredTask | null> {
  const jobId = await redis.hget(KEYS.taskJob(taskId), taskId);
  meter.roundTrip();
  if (!jobId) return null;
  const json = await redis.hget(KEYS.tasks(jobId), taskId);
  meter.roundTrip();
  return json ? decodeTask(json) : null;
}

/** Throws `RedisUnavailableError` rather than waiting when Redis is away (upload clean-up). */
export async function isImageReferenced(redis: Redis, meter: RedisMeter, sha256: string): Promise<boolean> {
  assertConnected(redis);
  const member = await redis.sismember(KEYS.images, sha256);
  meter.roundTrip();
  return member === 1;
}

/** `HSETNX cancelledAt` (the first cancel's time stays), then reads it back, in one transaction. */
export async function markCancelled(
  redis: Redis,
  meter: RedisMeter,
  jobId: string,
  now: number,
): Promise<number> {
  const key = KEYS.job(jobId);
  const replies = await redis.multi().hsetnx(key, 'cancelledAt', now).hget(key, 'cancelledAt').exec();
  meter.roundTrip(2);
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('redis transaction aborted');
  return Number(replies[1]![1] ?? now);
}

export async function setExpected(
  redis: Redis,
  meter: RedisMeter,
  jobId: string,
  expected: number,
): Promise<void> {
  await redis.hset(KEYS.job(jobId), 'expected', expected);
  meter.roundTrip();
}
