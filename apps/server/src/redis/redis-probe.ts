import type { Redis } from 'ioredis';
import type { DependencyProbe } from '../observability/health';
import { redisKeys } from './keys';
import { withTimeout } from './errors';

/**
 * `redis`: a `PING` and a short-lived write (`SET tg:health:<gateway> PX`) on the probe's own
 * connection, each bounded by `timeoutMs`. It gates dispatch: while it fails, `/healthz`
 * answers 503 and the scheduler hands out no new work.
 */
export function redisProbe(redis: Redis, gatewayId: string, timeoutMs: number): DependencyProbe {
  return {
    name: 'redis',
    gatesDispatch: true,
    async check() {
      await withTimeout(redis.ping(), timeoutMs, 'PING');
      await withTimeout(
        redis.set(redisKeys.healthProbe(gatewayId), String(Date.now()), 'PX', 60_000),
        timeoutMs,
        'a probe write',
      );
    },
  };
}
