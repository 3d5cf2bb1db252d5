import type { Redis } from 'ioredis';

/**
 * `tgPutTask tasks status jobCounts counts recent  taskId json newStatus force jobId keep` —
 * stores a task's JSON and keeps the status counters. A final state (`done`, `failed`) is written
 * once: a later write returns 0 and changes nothing (a duplicate result from at-least-once
 * delivery), unless `force` is 1 (backtracking reopens a done task). Idempotent: a retried write
 * counts nothing twice. A task that becomes `done` is also pushed (`jobId taskId`) on the capped
 * list of recent results `recent` (the `/live` snapshot), which keeps the newest `keep`.
 */
const PUT_TASK = `
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if (prev == 'done' or prev == 'failed') and ARGV[4] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if prev ~= ARGV[3] then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  if prev then
    redis.call('HINCRBY', KEYS[3], prev, -1)
    redis.call('HINCRBY', KEYS[4], prev, -1)
  end
  redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
  redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
  if ARGV[3] == 'done' then
    redis.call('LPUSH', KEYS[5], ARGV[5] .. ' ' .. ARGV[1])
    redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
  end
end
return 1
`;

/**
 * `tgCancelJob tasks status jobCounts counts  now` — every unfinished task of the job fails with
 * code `cancelled`, wherever it is cached. Returns the ids it failed.
 */
const CANCEL_JOB = `
local ids = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local id, prev = all[i], all[i + 1]
  if prev == 'queued' or prev == 'running' then
    local t = cjson.decode(redis.call('HGET', KEYS[1], id))
    t.status = 'failed'
    t.completedAt = tonumber(ARGV[1])
    t.errorCode = 'cancelled'
    t.errorMessage = 'cancelled by its owner'
    redis.call('HSET', KEYS[1], id, cjson.encode(t))
    redis.call('HSET', KEYS[2], id, 'failed')
    redis.call('HINCRBY', KEYS[3], prev, -1)
    redis.call('HINCRBY', KEYS[4], prev, -1)
    redis.call('HINCRBY', KEYS[3], 'failed', 1)
    redis.call('HINCRBY', KEYS[4], 'failed', 1)
    ids[#ids + 1] = id
  end
end
return ids
`;

/**
 * `tgIndexTrusted trusted  score member keep ttlMs` — adds a published result (any verification) to
 * its volunteer's index, keeps the latest `keep`, and makes the set expire `ttlMs` after the latest.
 */
const INDEX_TRUSTED = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

/**
 * `tgReopenTrusted tasks status jobCounts counts stream meta  taskId assignmentId volunteerId jobId`
 * — backtracking on any gateway (rule V7): if the task still publishes this assignment's result
 * (alone, or as one of the agreeing pair whose mean it publishes: `pairAssignmentId`)
 * and its job is not deleted, its result is cleared, the volunteer excluded, `reopened` counted up
 * (gateways holding an older copy in memory drop it), and the task queued on the stream again.
 * Returns its new JSON; `deleted` (the result was this volunteer's, but nobody will read it
 * again: nothing to redo); or nil (already reopened, or its result is someone else's).
 */
const REOPEN_TRUSTED = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= 'done' then return false end
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return false end
local t = cjson.decode(json)
if t.resultAssignmentId ~= ARGV[2] and t.pairAssignmentId ~= ARGV[2] then return false end
if redis.call('HEXISTS', KEYS[6], 'deletedAt') == 1 then return 'deleted' end
t.status = 'queued'
t.completedAt = cjson.null
t.detections = cjson.null
t.resultAssignmentId = cjson.null
t.pairAssignmentId = cjson.null
t.verification = cjson.null
t.agreeing = 0
t.reopened = (tonumber(t.reopened) or 0) + 1
local excluded = {}
local seen = false
if type(t.excluded) == 'table' then
  for _, v in ipairs(t.excluded) do
    excluded[#excluded + 1] = v
    if v == ARGV[3] then seen = true end
  end
end
if not seen then excluded[#excluded + 1] = ARGV[3] end
t.excluded = excluded
local out = cjson.encode(t)
redis.call('HSET', KEYS[1], ARGV[1], out)
redis.call('HSET', KEYS[2], ARGV[1], 'queued')
redis.call('HINCRBY', KEYS[3], 'done', -1)
redis.call('HINCRBY', KEYS[4], 'done', -1)
redis.call('HINCRBY', KEYS[3], 'queued', 1)
redis.call('HINCRBY', KEYS[4], 'queued', 1)
redis.call('XADD', KEYS[5], '*', 'j', ARGV[4], 't', ARGV[1])
return out
`;

/** A connection with the scheduling scripts defined (EVALSHA, loaded on first use). */
export type ScriptedRedis = Redis & {
  tgPutTask(
    tasks: string,
    status: string,
    jobCounts: string,
    counts: string,
    recent: string,
    taskId: string,
    json: string,
    newStatus: string,
    force: '0' | '1',
    jobId: string,
    keep: number,
  ): Promise<number>;
  tgCancelJob(
    tasks: string,
    status: string,
    jobCounts: string,
    counts: string,
    now: number,
  ): Promise<string[]>;
  tgIndexTrusted(
    trusted: string,
    score: number,
    member: string,
    keep: number,
    ttlMs: number,
  ): Promise<number>;
  tgReopenTrusted(
    tasks: string,
    status: string,
    jobCounts: string,
    counts: string,
    stream: string,
    meta: string,
    taskId: string,
    assignmentId: string,
    volunteerId: string,
    jobId: string,
  ): Promise<string | null>;
};

export function defineScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.tgPutTask !== 'function') {
    redis.defineCommand('tgPutTask', { numberOfKeys: 5, lua: PUT_TASK });
    redis.defineCommand('tgCancelJob', { numberOfKeys: 4, lua: CANCEL_JOB });
    redis.defineCommand('tgIndexTrusted', { numberOfKeys: 1, lua: INDEX_TRUSTED });
    redis.defineCommand('tgReopenTrusted', { numberOfKeys: 6, lua: REOPEN_TRUSTED });
  }
  return r;
}
