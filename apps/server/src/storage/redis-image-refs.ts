import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';

/**
 * How long a removal decision stays visible to uploads (`tg:image-freeing:<sha>`). The blob
 * removal must finish well within it; an upload waits at most this long for one.
 */
export const FREEING_TTL_MS = 60_000;

/**
 * `tgDeleteJob meta jobImages imageRefs  now ttlMs freeingPrefix` — marks a job deleted once
 * (`HSETNX deletedAt`) and, the first time only, takes its tasks' references off each image; an
 * image no task of a live job uses any more is returned, with its removal announced
 * (`<freeingPrefix><sha>` = `freeing`, `PX ttlMs`) in the same atomic step. Returns
 * `{deletedAt, freeable}`. (The announcement keys are not declared: one Redis, not a Cluster.)
 */
const DELETE_JOB = `
if redis.call('HSETNX', KEYS[1], 'deletedAt', ARGV[1]) == 0 then
  return {redis.call('HGET', KEYS[1], 'deletedAt'), {}}
end
local free = {}
local uses = redis.call('HGETALL', KEYS[2])
for i = 1, #uses, 2 do
  local sha = uses[i]
  if redis.call('HINCRBY', KEYS[3], sha, -tonumber(uses[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[3], sha)
    redis.call('SET', ARGV[3] .. sha, 'freeing', 'PX', ARGV[2])
    free[#free + 1] = sha
  end
end
return {ARGV[1], free}
`;

type WithDeleteScript = Redis & {
  tgDeleteJob(
    meta: string,
    jobImages: string,
    imageRefs: string,
    now: number,
    ttlMs: number,
    freeingPrefix: string,
  ): Promise<[string, string[]]>;
};

function scripted(redis: Redis): WithDeleteScript {
  const r = redis as WithDeleteScript;
  if (typeof r.tgDeleteJob !== 'function')
    redis.defineCommand('tgDeleteJob', { numberOfKeys: 3, lua: DELETE_JOB });
  return r;
}

/**
 * Image reference counting in Redis mode, so a deleted job's images that no other live job uses
 * are freed as in SQLite mode, with no blob a live task refers to ever removed
 * (ARCHITECTURE.md, "Redis", Images):
 *
 * - storing tasks (`scheduling/redis/job-records.ts`) adds their uses to `tg:{job:ID}:images`
 *   and `tg:image-refs`, and reads `tg:image-freeing:<sha>` of those images, in one `MULTI`;
 * - deleting a job ({@link deleteJob}) takes its uses off and, atomically, announces the removal
 *   of images left at 0; the caller removes the bytes, then calls {@link freed};
 * - an upload whose transaction saw an announcement waits until the removal is over and writes
 *   those bytes again (`storage/upload-storage.ts`). One that stored its tasks before the
 *   decision kept the count above 0, so the image was not freed.
 */
export async function deleteJob(
  redis: Redis,
  jobId: string,
  now: number,
): Promise<{ deletedAt: number; freeable: string[] }> {
  const [deletedAt, freeable] = await scripted(redis).tgDeleteJob(
    redisKeys.jobMeta(jobId),
    redisKeys.jobImages(jobId),
    redisKeys.imageRefs,
    now,
    FREEING_TTL_MS,
    redisKeys.imageFreeing(''),
  );
  return { deletedAt: Number(deletedAt), freeable };
}

/** The bytes of these images are removed: uploads waiting for them may write them again. */
export async function freed(redis: Redis, shas: readonly string[]): Promise<void> {
  if (shas.length === 0) return;
  const pipe = redis.pipeline();
  for (const sha of shas) pipe.set(redisKeys.imageFreeing(sha), 'freed', 'PX', FREEING_TTL_MS, 'XX');
  await pipe.exec();
}

/** Waits until no removal of `sha` is under way (at most `FREEING_TTL_MS`, then it has expired). */
export async function untilFreed(redis: Redis, sha: string, pollMs = 50): Promise<void> {
  while ((await redis.get(redisKeys.imageFreeing(sha))) === 'freeing') {
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
