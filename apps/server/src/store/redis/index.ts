import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { RetryPolicy } from '../records';
import { RedisSchedulingStore, type RedisSchedulingOptions } from './redis-scheduling-store';
import { defineScripts } from './scripts';
import { ensureGroup } from './stream-claims';

export { RedisSchedulingStore, type RedisSchedulingOptions } from './redis-scheduling-store';
export { RedisUnavailableError } from './job-records';
export { KEYS as REDIS_SCHEDULING_KEYS } from './keys';
export { RecentResults, type RecentEntry, type RecentResult } from './recent-results';

/** A gateway id unique per process: host, pid and a random tail. */
export const newGatewayId = () => `gw-${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

/**
 * Opens the Redis scheduling store for one gateway: defines its scripts, makes sure the task
 * stream's consumer group exists, opens a second connection for blocking reads, then starts it
 * (liveness, recovery of its own pending entries, claiming, janitor). `redis` stays the caller's
 * to close, after `store.close()`.
 *
 * @example
 * const redis = connectRedis(config.redisUrl!, 'scheduling');
 * const { store, recovered } = await openRedisScheduling(redis, config, { gatewayId: newGatewayId() });
 * store.onTasksAvailable(() => scheduler.pump());
 */
export async function openRedisScheduling(
  redis: Redis,
  policy: RetryPolicy,
  options: Partial<RedisSchedulingOptions> = {},
  now = Date.now(),
): Promise<{ store: RedisSchedulingStore; recovered: { lapsed: number; queued: number } }> {
  const scripted = defineScripts(redis);
  await ensureGroup(redis);
  const reader = redis.duplicate({ connectionName: `${redis.options.connectionName ?? 'tabgrid'}:reader` });
  const store = new RedisSchedulingStore(scripted, reader, policy, {
    ...options,
    gatewayId: options.gatewayId ?? newGatewayId(),
  });
  const recovered = await store.start(now);
  return { store, recovered };
}
