import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';
import type {
  ClaimedDelivery,
  DeliveryRecord,
  DeliveryState,
  NewDelivery,
  WebhookQueue,
  WebhookTarget,
} from './types';

/** `delivery due targets targetIds  jobId msgId url payload dueAt` → 1 stored, 0 already there. */
const ENQUEUE = `
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'jobId', ARGV[1], 'msgId', ARGV[2], 'url', ARGV[3], 'payload', ARGV[4],
  'state', 'pending', 'attempts', 0, 'dueAt', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
`;

/**
 * `due  now leaseUntil limit tokenPrefix deliveryPrefix` → [fields, token, …]. Every claimed
 * delivery moves to `leaseUntil` in `due` (nobody else sees it as due before then), counts one
 * more attempt and takes a fresh token. The delivery hashes share `due`'s hash tag.
 */
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  local key = ARGV[5] .. id
  local token = ARGV[4] .. ':' .. i
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'token', token, 'dueAt', ARGV[2])
  out[#out + 1] = redis.call('HGETALL', key)
  out[#out + 1] = token
end
return out
`;

/**
 * `delivery due settled  token state dueAt error jobId at` → 1, or 0 when the claim was lost. A
 * final state leaves the queue and drops the payload (the record stays until pruned: the job's
 * event was decided); `settled` keeps when, for `prune`.
 */
const SETTLE = `
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'pending' then
  return 0
end
redis.call('HDEL', KEYS[1], 'token')
redis.call('HSET', KEYS[1], 'state', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[4]) end
if ARGV[2] == 'pending' then
  redis.call('HSET', KEYS[1], 'dueAt', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
else
  redis.call('HSET', KEYS[1], 'payload', '')
  redis.call('ZREM', KEYS[2], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
end
return 1
`;

/** `settled  before limit deliveryPrefix` → how many decided deliveries were deleted. */
const PRUNE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
`;

function record(fields: Record<string, string>): DeliveryRecord {
  return {
    jobId: fields.jobId ?? '',
    msgId: fields.msgId ?? '',
    url: fields.url ?? '',
    payload: fields.payload ?? '',
    state: (fields.state ?? 'pending') as DeliveryState,
    attempts: Number(fields.attempts ?? 0),
    dueAt: Number(fields.dueAt ?? 0),
    lastError: fields.lastError || null,
  };
}

const pairs = (flat: string[]) => {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

/**
 * The delivery queue in Redis, shared by every gateway (keys `tg:{webhooks}:…`, redis/keys.ts).
 * Enqueueing, claiming and settling are Lua scripts: one job gets one delivery whichever gateways
 * race to enqueue it, and an attempt is claimed by one gateway (a lease in the `due` sorted set).
 */
export class RedisWebhookQueue implements WebhookQueue {
  readonly secretLocation = `redis-cli GET '${redisKeys.webhookSecret}'`;

  constructor(private readonly redis: Redis) {}

  async addTarget(target: WebhookTarget): Promise<void> {
    const set = await this.redis.hsetnx(redisKeys.webhookTargets, target.jobId, target.url);
    if (set === 1) await this.redis.zadd(redisKeys.webhookTargetIds, 0, target.jobId);
  }

  async target(jobId: string): Promise<WebhookTarget | null> {
    const url = await this.redis.hget(redisKeys.webhookTargets, jobId);
    return url === null ? null : { jobId, url };
  }

  async targets(limit: number, after: string | null): Promise<WebhookTarget[]> {
    const ids = await this.redis.zrangebylex(
      redisKeys.webhookTargetIds,
      after === null ? '-' : `(${after}`,
      '+',
      'LIMIT',
      0,
      limit,
    );
    if (ids.length === 0) return [];
    const urls = await this.redis.hmget(redisKeys.webhookTargets, ...ids);
    return ids.flatMap((jobId, i) => (urls[i] == null ? [] : [{ jobId, url: urls[i] }]));
  }

  async dropTarget(jobId: string): Promise<void> {
    await this.redis
      .multi()
      .hdel(redisKeys.webhookTargets, jobId)
      .zrem(redisKeys.webhookTargetIds, jobId)
      .exec();
  }

  async enqueue(d: NewDelivery): Promise<boolean> {
    const stored = await this.redis.eval(
      ENQUEUE,
      4,
      redisKeys.webhookDelivery(d.jobId),
      redisKeys.webhookDue,
      redisKeys.webhookTargets,
      redisKeys.webhookTargetIds,
      d.jobId,
      d.msgId,
      d.url,
      d.payload,
      d.dueAt,
    );
    return stored === 1;
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedDelivery[]> {
    const reply = (await this.redis.eval(
      CLAIM,
      1,
      redisKeys.webhookDue,
      now,
      leaseUntil,
      limit,
      randomBytes(12).toString('base64url'),
      redisKeys.webhookDelivery(''),
    )) as (string[] | string)[];
    const claimed: ClaimedDelivery[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      claimed.push({ ...record(pairs(reply[i] as string[])), token: reply[i + 1] as string });
    }
    return claimed;
  }

  complete(jobId: string, token: string, at: number): Promise<boolean> {
    return this.settle(jobId, token, 'delivered', 0, '', at);
  }

  retry(jobId: string, token: string, dueAt: number, error: string): Promise<boolean> {
    return this.settle(jobId, token, 'pending', dueAt, error, 0);
  }

  giveUp(jobId: string, token: string, error: string, at: number): Promise<boolean> {
    return this.settle(jobId, token, 'failed', 0, error, at);
  }

  async prune(decidedBefore: number, limit: number): Promise<number> {
    const n = await this.redis.eval(
      PRUNE,
      1,
      redisKeys.webhookSettled,
      decidedBefore,
      limit,
      redisKeys.webhookDelivery(''),
    );
    return Number(n);
  }

  async get(jobId: string): Promise<DeliveryRecord | null> {
    const fields = await this.redis.hgetall(redisKeys.webhookDelivery(jobId));
    return Object.keys(fields).length === 0 ? null : record(fields);
  }

  async secret(candidate: string): Promise<string> {
    await this.redis.set(redisKeys.webhookSecret, candidate, 'NX');
    const stored = await this.redis.get(redisKeys.webhookSecret);
    if (!stored) throw new Error(`${redisKeys.webhookSecret} holds no secret`);
    return stored;
  }

  private async settle(
    jobId: string,
    token: string,
    state: DeliveryState,
    dueAt: number,
    error: string,
    at: number,
  ): Promise<boolean> {
    const done = await this.redis.eval(
      SETTLE,
      3,
      redisKeys.webhookDelivery(jobId),
      redisKeys.webhookDue,
      redisKeys.webhookSettled,
      token,
      state,
      dueAt,
      error.slice(0, 500),
      jobId,
      at,
    );
    return done === 1;
  }
}
