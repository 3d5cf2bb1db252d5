import type { Redis } from 'ioredis';

/** Redis does not persist every write before answering, and the operator did not allow it. */
export class UnsafeRedisDurabilityError extends Error {
  override readonly name = 'UnsafeRedisDurabilityError';
}

export interface DurabilityReport {
  appendonly: string | null;
  appendfsync: string | null;
  /** True when Redis runs `appendonly yes` + `appendfsync always`. */
  safe: boolean;
  /** Why it could not be read (`CONFIG` disabled, e.g. on a managed service), else null. */
  unknownBecause: string | null;
}

/**
 * Start-up check: a job answered `201` must survive `kill -9` of Redis, which needs the AOF
 * fsynced on every write (`appendonly yes`, `appendfsync always`). Reads both with
 * `CONFIG GET`. Unsafe settings refuse to start (`UnsafeRedisDurabilityError`) unless
 * `allowUnsafe` (env `TABGRID_REDIS_ALLOW_UNSAFE_FSYNC=1`), then `warn` is called; a Redis
 * that refuses `CONFIG` (managed services rename it) is allowed with a warning.
 *
 * @example await checkDurability(redis, config.redisAllowUnsafeFsync, (m) => log.warn(m));
 */
export async function checkDurability(
  redis: Redis,
  allowUnsafe: boolean,
  warn: (message: string) => void,
): Promise<DurabilityReport> {
  let appendonly: string | null = null;
  let appendfsync: string | null = null;
  try {
    appendonly = ((await redis.config('GET', 'appendonly')) as string[])[1] ?? null;
    appendfsync = ((await redis.config('GET', 'appendfsync')) as string[])[1] ?? null;
  } catch (err) {
    const because = err instanceof Error ? err.message : String(err);
    warn(
      `cannot read Redis durability settings (${because}); make sure it runs with appendonly yes and appendfsync always`,
    );
    return { appendonly, appendfsync, safe: false, unknownBecause: because };
  }
  const safe = appendonly === 'yes' && appendfsync === 'always';
  if (!safe) {
    const message =
      `Redis runs with appendonly ${appendonly} and appendfsync ${appendfsync}: a job answered 201 ` +
      'could be lost if Redis is killed. Set appendonly yes and appendfsync always (docs/DEPLOY.md)';
    if (!allowUnsafe)
      throw new UnsafeRedisDurabilityError(
        `${message}, or set TABGRID_REDIS_ALLOW_UNSAFE_FSYNC=1 to start anyway`,
      );
    warn(`${message}. Starting anyway: TABGRID_REDIS_ALLOW_UNSAFE_FSYNC=1`);
  }
  return { appendonly, appendfsync, safe, unknownBecause: null };
}
