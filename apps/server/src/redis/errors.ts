/**
 * Errors ioredis raises while Redis cannot be used: not connected (and the command not queued),
 * a command past `commandTimeout`, Redis still loading its AOF, or refusing writes.
 */
const UNAVAILABLE =
  /Command timed out|Connection is closed|Stream isn't writeable|max retries per request|^LOADING|^MISCONF|^READONLY|^MASTERDOWN|^CLUSTERDOWN|^TRYAGAIN|ECONNREFUSED|ECONNRESET|Redis is unavailable|REDIS_UNAVAILABLE/;

export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'MaxRetriesPerRequestError' || UNAVAILABLE.test(err.message);
}

/** Rejects with a recognisable error when `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis is unavailable: ${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
