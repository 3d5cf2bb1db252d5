/**
 * The requester the benchmarks act as (the server needs a key for `/api` and `/metrics`),
 * and the per-key limits lifted so the scheduler, not the access limits, is what is measured.
 */
export const BENCH_KEY = { name: 'bench', key: 'bench-key-not-a-secret-0123456789' } as const;

export const benchAuth = { authorization: `Bearer ${BENCH_KEY.key}` } as const;

/** Environment for a bench server child process. */
export const benchServerEnv = (maxQueued = 100_000) => ({
  TABGRID_API_KEYS: `${BENCH_KEY.name}:${BENCH_KEY.key}`,
  TABGRID_MAX_QUEUED_PER_KEY: String(maxQueued),
  TABGRID_UPLOADS_PER_MINUTE: '100000',
  // Every simulated volunteer and viewer connects from 127.0.0.1.
  TABGRID_NEW_IDENTITIES_PER_HOUR: '0',
  TABGRID_MAX_LIVE_PER_IP: '0',
});

/** Config overrides for an in-process bench server. */
export const benchServerConfig = (maxQueued = 100_000) => ({
  apiKeys: [{ ...BENCH_KEY }],
  maxQueuedPerKey: maxQueued,
  uploadsPerMinute: 100_000,
  newIdentitiesPerHour: 0,
  maxLivePerIp: 0,
});
