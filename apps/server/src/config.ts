import path from 'node:path';
import { parseEnvKeys } from './access/api-key';
import { parseOrigins } from './access/origin-check';
import { checkWebhookSecret } from './webhooks/signer';

/** Every tunable of the server, with its default. Read from the environment by `loadConfig`. */
export interface ServerConfig {
  /** @defaultValue 8080 (env PORT); 0 picks a free port (tests). */
  port: number;
  /**
   * Listen address. Loopback by default: volunteers need no key and receive the photos, so
   * opening the server to other machines is a decision (README "Listen address").
   * @defaultValue '127.0.0.1' (env HOST; '0.0.0.0' for every interface)
   */
  host: string;
  /** SQLite database and content-addressed images. @defaultValue './data' (env TABGRID_DATA_DIR) */
  dataDir: string;
  /**
   * Shared state for several gateway processes (issue #10): when set, jobs, tasks, results,
   * identities, reputation, credits, keys and ownership live in this Redis 7 instead of the
   * SQLite database in `dataDir`. @defaultValue null: embedded SQLite (env TABGRID_REDIS_URL,
   * e.g. `redis://127.0.0.1:6379`)
   */
  redisUrl: string | null;
  /**
   * This gateway process's name in Redis mode (consumer name, liveness key, logs). Set it to
   * keep one name across restarts. @defaultValue null: `gw-<random>` per start
   * (env TABGRID_GATEWAY_ID)
   */
  gatewayId: string | null;
  /**
   * Where image blobs are stored. Several gateways must share it (one NFS/EFS-style directory
   * mounted at the same path on each, docs/DEPLOY.md). @defaultValue null: `<dataDir>/images`
   * (env TABGRID_BLOB_DIR)
   */
  blobDir: string | null;
  /**
   * Longest wait for one Redis command before it fails as `storage_unavailable`.
   * @defaultValue 5000 (env TABGRID_REDIS_COMMAND_TIMEOUT_MS)
   */
  redisCommandTimeoutMs: number;
  /**
   * Start even though Redis does not run with `appendonly yes` + `appendfsync always`
   * (a `201` job could then be lost when Redis is killed). @defaultValue false
   * (env TABGRID_REDIS_ALLOW_UNSAFE_FSYNC=1)
   */
  redisAllowUnsafeFsync: boolean;
  /** Where `yolox_nano.onnx` and `coco-labels.txt` are. @defaultValue 'public/models' (env TABGRID_MODEL_DIR) */
  modelDir: string;
  /** The built web app. @defaultValue 'dist' (env TABGRID_STATIC_DIR) */
  staticDir: string;
  /** A volunteer must acknowledge an assignment within this. @defaultValue 1000 (env TABGRID_ACK_TIMEOUT_MS) */
  ackTimeoutMs: number;
  /** A lease lapses this long after its last renewal. @defaultValue 10000 (env TABGRID_LEASE_MS) */
  leaseMs: number;
  /** How often lapsed leases are looked for. @defaultValue 250 */
  leaseCheckMs: number;
  /**
   * Tasks a volunteer with one slot may hold at once (one running, one prefetched). A volunteer
   * announcing `slots: n` may hold `n + maxInFlight - 1`, at most `maxInFlightCap`. @defaultValue 2
   */
  maxInFlight: number;
  /** Hard cap on tasks held by any one volunteer, whatever its slots. @defaultValue 9 (8 slots + 1) */
  maxInFlightCap: number;
  /**
   * Lost assignments before a task fails, only where no referee runs (verification off, or no
   * referee threads); with one, lost leases never fail a task (rule T13). @defaultValue 10 (env TABGRID_MAX_ATTEMPTS)
   */
  maxAttempts: number;
  /** How often queued tasks are checked against their deadline. @defaultValue 5000 */
  deadlineCheckMs: number;
  /** Volunteer failure reports (e.g. undecodable) before a task fails with that reason. @defaultValue 3 */
  maxFailureReports: number;
  /** A task not done this long after submission fails. @defaultValue 3_600_000 (env TABGRID_TASK_DEADLINE_MS) */
  taskDeadlineMs: number;
  /**
   * Wall-clock cap on one assignment, even while heartbeats arrive: past it the lease is no longer
   * renewed and lapses, so a volunteer that acks and heartbeats but never answers cannot hold a
   * task forever (and the task deadline then applies when it is requeued).
   * @defaultValue 600000 (10 min, generous for slow phones; env TABGRID_MAX_ASSIGNMENT_MS)
   */
  maxAssignmentMs: number;
  /** Largest accepted file, bytes. @defaultValue 20 MB (env TABGRID_MAX_FILE_BYTES) */
  maxFileBytes: number;
  /** Most files in one upload. @defaultValue 100 (env TABGRID_MAX_FILES) */
  maxFiles: number;
  /** Largest accepted image, in pixels (decompression-bomb guard). @defaultValue 50 MP (env TABGRID_MAX_PIXELS) */
  maxPixels: number;
  /** Queued tasks above which uploads get 429. @defaultValue 10000 (env TABGRID_MAX_QUEUED) */
  maxQueued: number;
  /** Requesters' keys from the environment, `name:key,…`. @defaultValue [] (env TABGRID_API_KEYS) */
  apiKeys: { name: string; key: string }[];
  /**
   * Browser origins allowed to call `/api` and open Socket.IO connections. Empty = the server's
   * own origin (the request's Host). @defaultValue [] (env TABGRID_ALLOWED_ORIGINS)
   */
  allowedOrigins: string[];
  /**
   * Bearer token for `GET /metrics` (for Prometheus). Unset: `/metrics` takes any requester's
   * API key instead. @defaultValue undefined (env TABGRID_METRICS_TOKEN)
   */
  metricsToken?: string;
  /** Unfinished tasks one key may have before its uploads get 429. @defaultValue 2000 (env TABGRID_MAX_QUEUED_PER_KEY) */
  maxQueuedPerKey: number;
  /** Uploads (`POST /api/jobs`) per key per minute before 429. @defaultValue 60 (env TABGRID_UPLOADS_PER_MINUTE) */
  uploadsPerMinute: number;
  /**
   * Bytes one key may upload per minute (all its uploads together), counted as they arrive; past
   * it an upload is refused `429 rate_limited` with `Retry-After`. 0 = no limit.
   * @defaultValue 4 GiB (env TABGRID_UPLOAD_BYTES_PER_MINUTE)
   */
  uploadBytesPerMinute: number;
  /**
   * Uploads of one key being received at once; the next gets `429 rate_limited` with
   * `Retry-After`. 0 = no limit. @defaultValue 2 (env TABGRID_CONCURRENT_UPLOADS_PER_KEY)
   */
  concurrentUploadsPerKey: number;
  /**
   * Invalid API keys one client address may send per minute (HTTP and `/live`); past it the
   * address gets `429 rate_limited` with `Retry-After`. 0 = no limit.
   * @defaultValue 10 (env TABGRID_SIGN_IN_FAILURES_PER_MINUTE)
   */
  signInFailuresPerMinute: number;
  /**
   * `/live` connections open at once from one client address; the next handshake is refused
   * `rate_limited`. 0 = no limit. @defaultValue 20 (env TABGRID_MAX_LIVE_PER_IP)
   */
  maxLivePerIp: number;
  /**
   * New volunteer identities issued per client network (/24, /48; the address itself with
   * `TABGRID_DISTINCT_NETWORKS=0`) per hour; past it the handshake is refused `rate_limited`.
   * A network with a recently quarantined identity gets a quarter of it. 0 = no limit (single-host
   * tests and benches). @defaultValue 20 (env TABGRID_NEW_IDENTITIES_PER_HOUR)
   */
  newIdentitiesPerHour: number;
  /**
   * An identity that never had a result verified is forgotten this long after it was issued
   * (rule I8). 0 = never. @defaultValue 86_400_000 (24 h; env TABGRID_IDENTITY_TTL_MS)
   */
  identityTtlMs: number;
  /**
   * Most identities issued per gateway within `identityTtlMs` (the identity table's bound, with
   * those that did verified work); past it new volunteers are refused `rate_limited`.
   * @defaultValue 100_000 (env TABGRID_MAX_PENDING_IDENTITIES)
   */
  maxPendingIdentities: number;
  /** Inbound socket events per second per connection before `rate_limited`. @defaultValue 50 */
  socketEventsPerSecond: number;
  /**
   * Uploads are refused (507 insufficient_storage) while the data directory's volume has less free
   * space than this; running work goes on. 0 disables the check. @defaultValue 256 MiB (env TABGRID_MIN_FREE_BYTES)
   */
  minFreeBytes: number;
  /**
   * How long a database write waits for a lock held by another process before failing with
   * SQLITE_BUSY. better-sqlite3 waits synchronously, so this is also the longest the event loop
   * can block on one write. @defaultValue 5000 (env TABGRID_DB_BUSY_TIMEOUT_MS)
   */
  dbBusyTimeoutMs: number;
  /** How often the dependency probes (database write, free disk space) run. @defaultValue 1000 (env TABGRID_HEALTH_CHECK_MS) */
  healthCheckMs: number;
  /**
   * Volunteers connected at once from one client address; the next handshake is refused with
   * `too_many_volunteers`. 0 = no limit. @defaultValue 8 (env TABGRID_MAX_VOLUNTEERS_PER_IP)
   */
  maxVolunteersPerIp: number;
  /**
   * Tasks held at once by all volunteers of one client address; past it their offers wait.
   * 0 = no limit. @defaultValue 32 (env TABGRID_MAX_TASKS_PER_IP)
   */
  maxTasksPerIp: number;
  /**
   * Proxies whose `X-Forwarded-For` is believed (addresses, CIDR ranges, or `loopback`,
   * `linklocal`, `uniquelocal`). Empty: the socket's peer address is the client's.
   * @defaultValue [] (env TABGRID_TRUST_PROXY, comma-separated)
   */
  trustProxy: string[];
  /**
   * Verification (PROTOCOL.md rules V1–V9): replicas must come from distinct networks (/24, /48).
   * `TABGRID_DISTINCT_NETWORKS=0` turns that off for single-host tests. @defaultValue true
   */
  distinctNetworks: boolean;
  /**
   * Result verification (probation, replicas, spot checks, referee). Off only for tests of
   * scheduling with scripted volunteers. @defaultValue true (env TABGRID_VERIFICATION=0 turns it off)
   */
  verification: boolean;
  /** Verified agreements in a row before a volunteer is trusted. @defaultValue 10 (env TABGRID_TRUST_STREAK) */
  trustStreak: number;
  /** Spot-check floor for trusted volunteers, in percent. @defaultValue 5 (env TABGRID_SPOT_CHECK_PERCENT) */
  spotCheckPercent: number;
  /**
   * The trust ramp: verified agreements past the trust streak during which a newly trusted
   * volunteer is spot-checked at `trustRampPercent` (0 = BOINC's policy alone). Measured trade-off
   * in docs/SECURITY.md. @defaultValue 40 (env TABGRID_TRUST_RAMP_CHECKS)
   */
  trustRampChecks: number;
  /** Spot-check percentage during the trust ramp. @defaultValue 50 (env TABGRID_TRUST_RAMP_PERCENT) */
  trustRampPercent: number;
  /** A result still waiting for its replica this long (ms) goes to the referee. @defaultValue 3000 (env TABGRID_REFEREE_AFTER_MS) */
  refereeAfterMs: number;
  /**
   * Networks (/24, /48; identities with `TABGRID_DISTINCT_NETWORKS=0`) that lost a task (left,
   * never acked, let the lease lapse, declined it untrusted) before the referee runs it itself
   * (rule T13); sooner when no one else connected may take it. @defaultValue 3 (env TABGRID_REFEREE_AFTER_LOSSES)
   */
  refereeAfterLosses: number;
  /** Referee worker threads (0 = no referee). @defaultValue 1 (env TABGRID_REFEREE_WORKERS) */
  refereeWorkers: number;
  /** Most referee runs started per second. @defaultValue 10 (env TABGRID_REFEREE_BUDGET) */
  refereeBudget: number;
  /**
   * Failed referee runs on one task (retried with backoff from `refereeAfterMs`, doubling, at most
   * 60 s apart) before the referee gives up on it and a third volunteer decides (rule V9).
   * @defaultValue 5 (env TABGRID_REFEREE_MAX_FAILURES)
   */
  refereeMaxFailures: number;
  /**
   * Canaries (rule V12): percent of offers to volunteers not in quarantine that are known-answer
   * tasks, when one is ready (quarantined volunteers get only canaries; they need the referee).
   * @defaultValue 2 (env TABGRID_CANARY_PERCENT)
   */
  canaryPercent: number;
  /**
   * Declines (rule V11): a volunteer that declines (reports a failure on, refuses, or drops a
   * canary of) more than this percent of its latest 20 tasks (judged from 10) has its task limit
   * halved, once more per further multiple of it. 100 turns it off.
   * @defaultValue 20 (env TABGRID_MAX_DECLINE_PERCENT)
   */
  maxDeclinePercent: number;
  /**
   * Webhooks (PROTOCOL.md W1–W12): the key that signs every event, `whsec_` + base64 of 16–64
   * random bytes. Unset: one is generated at the first start and kept in the store (logged with
   * how to read it; docs/DEPLOY.md "Webhooks"). @defaultValue null (env TABGRID_WEBHOOK_SECRET)
   */
  webhookSecret: string | null;
  /**
   * Let `callbackUrl` name private, loopback and link-local addresses (tests, closed networks).
   * Off, they are refused at job creation and at connect time (W9). @defaultValue false
   * (env TABGRID_WEBHOOK_ALLOW_PRIVATE=1)
   */
  webhookAllowPrivate: boolean;
  /** Wait before a failed event's second attempt; later waits grow ×6 (W6). @defaultValue 5000 (env TABGRID_WEBHOOK_RETRY_MS) */
  webhookRetryMs: number;
  /** Attempts per event, the first included, before it is given up (W7). @defaultValue 8 (env TABGRID_WEBHOOK_MAX_ATTEMPTS) */
  webhookMaxAttempts: number;
  /** Bound on one attempt (connect, send, response headers). @defaultValue 10000 (env TABGRID_WEBHOOK_TIMEOUT_MS) */
  webhookTimeoutMs: number;
  /** How often due deliveries are looked for. @defaultValue 1000 (or the retry wait, if shorter) */
  webhookPollMs: number;
  /** How often every job waiting for its event is checked (finds ends another gateway saw first). @defaultValue 10000 */
  webhookSweepMs: number;
  /**
   * How long a decided delivery (delivered or given up) is kept before it is pruned; pruned at
   * each sweep. @defaultValue 604800000, 7 days (env TABGRID_WEBHOOK_RETENTION_MS)
   */
  webhookRetentionMs: number;
  /** pino level. @defaultValue 'info' (env LOG_LEVEL) */
  logLevel: string;
  /** Measuring only: a file to append each offer's send and ack times to (null = off). @defaultValue null (env TABGRID_ACK_TRACE) */
  ackTraceFile: string | null;
}

export const DEFAULT_CONFIG: ServerConfig = {
  port: 8080,
  host: '127.0.0.1',
  dataDir: './data',
  redisUrl: null,
  gatewayId: null,
  blobDir: null,
  redisCommandTimeoutMs: 5000,
  redisAllowUnsafeFsync: false,
  modelDir: 'public/models',
  staticDir: 'dist',
  ackTimeoutMs: 1000,
  leaseMs: 10_000,
  leaseCheckMs: 250,
  maxInFlight: 2,
  maxInFlightCap: 9,
  maxAttempts: 10,
  deadlineCheckMs: 5000,
  maxFailureReports: 3,
  taskDeadlineMs: 3_600_000,
  maxAssignmentMs: 600_000,
  maxFileBytes: 20 * 1024 * 1024,
  maxFiles: 100,
  maxPixels: 50_000_000,
  maxQueued: 10_000,
  apiKeys: [],
  allowedOrigins: [],
  maxQueuedPerKey: 2000,
  uploadsPerMinute: 60,
  uploadBytesPerMinute: 4 * 1024 ** 3,
  concurrentUploadsPerKey: 2,
  signInFailuresPerMinute: 10,
  maxLivePerIp: 20,
  newIdentitiesPerHour: 20,
  identityTtlMs: 86_400_000,
  maxPendingIdentities: 100_000,
  socketEventsPerSecond: 50,
  minFreeBytes: 256 * 1024 * 1024,
  dbBusyTimeoutMs: 5000,
  healthCheckMs: 1000,
  maxVolunteersPerIp: 8,
  maxTasksPerIp: 32,
  trustProxy: [],
  distinctNetworks: true,
  verification: true,
  trustStreak: 10,
  spotCheckPercent: 5,
  trustRampChecks: 40,
  trustRampPercent: 50,
  refereeAfterMs: 3000,
  refereeAfterLosses: 3,
  refereeWorkers: 1,
  refereeBudget: 10,
  refereeMaxFailures: 5,
  canaryPercent: 2,
  maxDeclinePercent: 20,
  webhookSecret: null,
  webhookAllowPrivate: false,
  webhookRetryMs: 5000,
  webhookMaxAttempts: 8,
  webhookTimeoutMs: 10_000,
  webhookPollMs: 1000,
  webhookSweepMs: 10_000,
  webhookRetentionMs: 7 * 24 * 3_600_000,
  logLevel: 'info',
  ackTraceFile: null,
};

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** Reads the configuration from environment variables (see README "Configuration"). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, root = process.cwd()): ServerConfig {
  const d = DEFAULT_CONFIG;
  return {
    ...d,
    port: int(env, 'PORT', d.port),
    host: env.HOST || d.host,
    dataDir: path.resolve(root, env.TABGRID_DATA_DIR || d.dataDir),
    redisUrl: env.TABGRID_REDIS_URL?.trim() || d.redisUrl,
    gatewayId: env.TABGRID_GATEWAY_ID?.trim() || d.gatewayId,
    blobDir: env.TABGRID_BLOB_DIR ? path.resolve(root, env.TABGRID_BLOB_DIR) : d.blobDir,
    redisCommandTimeoutMs: Math.max(
      100,
      int(env, 'TABGRID_REDIS_COMMAND_TIMEOUT_MS', d.redisCommandTimeoutMs),
    ),
    redisAllowUnsafeFsync: env.TABGRID_REDIS_ALLOW_UNSAFE_FSYNC === '1',
    modelDir: path.resolve(root, env.TABGRID_MODEL_DIR || d.modelDir),
    staticDir: path.resolve(root, env.TABGRID_STATIC_DIR || d.staticDir),
    ackTimeoutMs: int(env, 'TABGRID_ACK_TIMEOUT_MS', d.ackTimeoutMs),
    leaseMs: int(env, 'TABGRID_LEASE_MS', d.leaseMs),
    maxAttempts: int(env, 'TABGRID_MAX_ATTEMPTS', d.maxAttempts),
    taskDeadlineMs: int(env, 'TABGRID_TASK_DEADLINE_MS', d.taskDeadlineMs),
    maxAssignmentMs: Math.max(1000, int(env, 'TABGRID_MAX_ASSIGNMENT_MS', d.maxAssignmentMs)),
    maxFileBytes: int(env, 'TABGRID_MAX_FILE_BYTES', d.maxFileBytes),
    maxFiles: int(env, 'TABGRID_MAX_FILES', d.maxFiles),
    maxPixels: int(env, 'TABGRID_MAX_PIXELS', d.maxPixels),
    maxQueued: int(env, 'TABGRID_MAX_QUEUED', d.maxQueued),
    minFreeBytes: int(env, 'TABGRID_MIN_FREE_BYTES', d.minFreeBytes),
    dbBusyTimeoutMs: int(env, 'TABGRID_DB_BUSY_TIMEOUT_MS', d.dbBusyTimeoutMs),
    healthCheckMs: Math.max(10, int(env, 'TABGRID_HEALTH_CHECK_MS', d.healthCheckMs)),
    apiKeys: parseEnvKeys(env.TABGRID_API_KEYS),
    allowedOrigins: parseOrigins(env.TABGRID_ALLOWED_ORIGINS),
    ...(env.TABGRID_METRICS_TOKEN ? { metricsToken: env.TABGRID_METRICS_TOKEN } : {}),
    maxQueuedPerKey: int(env, 'TABGRID_MAX_QUEUED_PER_KEY', d.maxQueuedPerKey),
    uploadsPerMinute: int(env, 'TABGRID_UPLOADS_PER_MINUTE', d.uploadsPerMinute),
    uploadBytesPerMinute: int(env, 'TABGRID_UPLOAD_BYTES_PER_MINUTE', d.uploadBytesPerMinute),
    concurrentUploadsPerKey: int(env, 'TABGRID_CONCURRENT_UPLOADS_PER_KEY', d.concurrentUploadsPerKey),
    signInFailuresPerMinute: int(env, 'TABGRID_SIGN_IN_FAILURES_PER_MINUTE', d.signInFailuresPerMinute),
    maxLivePerIp: int(env, 'TABGRID_MAX_LIVE_PER_IP', d.maxLivePerIp),
    newIdentitiesPerHour: int(env, 'TABGRID_NEW_IDENTITIES_PER_HOUR', d.newIdentitiesPerHour),
    identityTtlMs: int(env, 'TABGRID_IDENTITY_TTL_MS', d.identityTtlMs),
    maxPendingIdentities: int(env, 'TABGRID_MAX_PENDING_IDENTITIES', d.maxPendingIdentities),
    maxVolunteersPerIp: int(env, 'TABGRID_MAX_VOLUNTEERS_PER_IP', d.maxVolunteersPerIp),
    maxTasksPerIp: int(env, 'TABGRID_MAX_TASKS_PER_IP', d.maxTasksPerIp),
    trustProxy: (env.TABGRID_TRUST_PROXY ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    distinctNetworks: env.TABGRID_DISTINCT_NETWORKS !== '0',
    verification: env.TABGRID_VERIFICATION !== '0',
    trustStreak: Math.max(1, int(env, 'TABGRID_TRUST_STREAK', d.trustStreak)),
    spotCheckPercent: Math.min(100, int(env, 'TABGRID_SPOT_CHECK_PERCENT', d.spotCheckPercent)),
    trustRampChecks: Math.max(0, int(env, 'TABGRID_TRUST_RAMP_CHECKS', d.trustRampChecks)),
    trustRampPercent: Math.min(100, Math.max(0, int(env, 'TABGRID_TRUST_RAMP_PERCENT', d.trustRampPercent))),
    refereeAfterMs: int(env, 'TABGRID_REFEREE_AFTER_MS', d.refereeAfterMs),
    refereeAfterLosses: Math.max(1, int(env, 'TABGRID_REFEREE_AFTER_LOSSES', d.refereeAfterLosses)),
    refereeWorkers: int(env, 'TABGRID_REFEREE_WORKERS', d.refereeWorkers),
    refereeBudget: int(env, 'TABGRID_REFEREE_BUDGET', d.refereeBudget),
    refereeMaxFailures: Math.max(1, int(env, 'TABGRID_REFEREE_MAX_FAILURES', d.refereeMaxFailures)),
    canaryPercent: Math.min(100, Math.max(0, int(env, 'TABGRID_CANARY_PERCENT', d.canaryPercent))),
    maxDeclinePercent: Math.min(
      100,
      Math.max(1, int(env, 'TABGRID_MAX_DECLINE_PERCENT', d.maxDeclinePercent)),
    ),
    webhookSecret: env.TABGRID_WEBHOOK_SECRET ? checkWebhookSecret(env.TABGRID_WEBHOOK_SECRET) : null,
    webhookAllowPrivate: env.TABGRID_WEBHOOK_ALLOW_PRIVATE === '1',
    webhookRetryMs: Math.max(10, int(env, 'TABGRID_WEBHOOK_RETRY_MS', d.webhookRetryMs)),
    webhookMaxAttempts: Math.max(1, int(env, 'TABGRID_WEBHOOK_MAX_ATTEMPTS', d.webhookMaxAttempts)),
    webhookTimeoutMs: Math.max(100, int(env, 'TABGRID_WEBHOOK_TIMEOUT_MS', d.webhookTimeoutMs)),
    webhookPollMs: Math.min(
      d.webhookPollMs,
      Math.max(10, int(env, 'TABGRID_WEBHOOK_RETRY_MS', d.webhookRetryMs)),
    ),
    webhookRetentionMs: Math.max(0, int(env, 'TABGRID_WEBHOOK_RETENTION_MS', d.webhookRetentionMs)),
    logLevel: env.LOG_LEVEL || d.logLevel,
    ackTraceFile: env.TABGRID_ACK_TRACE?.trim() || d.ackTraceFile,
  };
}
