import { Redis, type RedisOptions } from 'ioredis';

/**
 * Opens an ioredis connection for one purpose (`name` shows in `CLIENT LIST`). Commands wait
 * while Redis is away (`maxRetriesPerRequest: null`, reconnect with capped backoff) rather than
 * failing at once: callers bound their waits with their own timeouts and report
 * `storage_unavailable`. Each gateway opens a few connections (commands, blocking stream
 * reads, pub/sub); never share a connection that runs blocking commands.
 *
 * @example const redis = connectRedis(config.redisUrl!, 'commands'); await redis.ping();
 */
export function connectRedis(url: string, name: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: `tabgrid:${name}`,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...options,
  });
}
