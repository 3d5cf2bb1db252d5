import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';
import type { EdgeMemory, EdgeWindow } from './edge-memory';

/** Raises a mark: keeps the higher of the stored and the given value, for ARGV[2] ms. */
const RAISE = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if n > v then v = n end
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v`;

/**
 * The edge memory of every gateway (Redis mode): windows are `INCR` + `PEXPIRE … NX` counters,
 * marks strings with `PX`, sets `SADD` + `PEXPIRE`; every key expires by itself (no sweep), and
 * each call is one round trip (`MULTI`, or one script). Single-key commands, so Redis Cluster
 * needs nothing more.
 */
export class RedisEdgeMemory implements EdgeMemory {
  readonly shared = true;

  constructor(private readonly redis: Redis) {}

  async count(key: string, windowMs: number, now: number): Promise<EdgeWindow> {
    const k = redisKeys.edgeWindow(key);
    const replies = await this.redis.multi().incr(k).pexpire(k, windowMs, 'NX').pttl(k).exec();
    const [count, , ttl] = values(replies);
    return { count: Number(count), endsAt: now + Math.max(0, Number(ttl)) };
  }

  async peek(key: string, now: number): Promise<EdgeWindow | null> {
    const k = redisKeys.edgeWindow(key);
    const [count, ttl] = values(await this.redis.multi().get(k).pttl(k).exec());
    if (count === null || Number(ttl) <= 0) return null;
    return { count: Number(count), endsAt: now + Number(ttl) };
  }

  async raise(key: string, value: number, ttlMs: number): Promise<void> {
    await this.redis.eval(RAISE, 1, redisKeys.edgeMark(key), value, Math.max(1, Math.ceil(ttlMs)));
  }

  async mark(key: string): Promise<number> {
    return Number((await this.redis.get(redisKeys.edgeMark(key))) ?? 0);
  }

  async add(key: string, member: string, ttlMs: number) {
    const k = redisKeys.edgeSet(key);
    const replies = await this.redis
      .multi()
      .sadd(k, member)
      .pexpire(k, Math.max(1, Math.ceil(ttlMs)))
      .smembers(k)
      .exec();
    const [added, , members] = values(replies);
    return { added: Number(added) === 1, members: members as string[] };
  }

  members(key: string): Promise<string[]> {
    return this.redis.smembers(redisKeys.edgeSet(key));
  }

  async drop(key: string): Promise<void> {
    await this.redis.del(redisKeys.edgeSet(key));
  }
}

/** A `MULTI`'s replies, or the first error it carried. */
function values(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('Redis discarded the transaction');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
