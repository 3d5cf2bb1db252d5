/**
 * Every Redis key the gateway-wide state uses (identities, reputation, API keys, job ownership,
 * the image-signing secret), under one prefix `tg:`. Keys of one job carry the hash tag
 * `{job:ID}` so they share a Redis Cluster slot; the API keys share `{apikeys}` (a small set
 * updated atomically). The scheduling store's keys are documented with it
 * (ARCHITECTURE.md, "Redis").
 */
export const REDIS_PREFIX = 'tg:';

export const redisKeys = {
  volunteer: (id: string) => `${REDIS_PREFIX}volunteer:${id}`,
  volunteerName: (name: string) => `${REDIS_PREFIX}volunteer-name:${name}`,
  reputation: (id: string) => `${REDIS_PREFIX}reputation:${id}`,
  /** Hash: key name → `<sha256>:<createdAt>`. */
  apiKeysByName: `${REDIS_PREFIX}{apikeys}:by-name`,
  /** String: the name of the key with this SHA-256. */
  apiKeyByHash: (sha256: string) => `${REDIS_PREFIX}{apikeys}:sha256:${sha256}`,
  imageSecret: `${REDIS_PREFIX}secret:image-signer`,
  /**
   * The scheduling store's job hash (id, seq, createdAt, owner, public); access adds
   * `deletedAt`. Same name as the scheduling store's `KEYS.job`.
   */
  jobMeta: (jobId: string) => `${REDIS_PREFIX}{job:${jobId}}:meta`,
  /** The scheduling store's per-job hash: status → number of tasks. */
  jobCounts: (jobId: string) => `${REDIS_PREFIX}{job:${jobId}}:counts`,
  /** The scheduling store's per-job hash: task id → task JSON. */
  jobTasks: (jobId: string) => `${REDIS_PREFIX}{job:${jobId}}:tasks`,
  /**
   * List of `jobId taskId`, newest first, of tasks that became done (capped; pushed by the
   * scheduling store's write-once script). Same name as the scheduling store's `KEYS.recentResults`.
   */
  recentResults: `${REDIS_PREFIX}live:recent`,
  /** Hash: image SHA-256 → how many of the job's tasks use it (written with the tasks). */
  jobImages: (jobId: string) => `${REDIS_PREFIX}{job:${jobId}}:images`,
  /** Hash: image SHA-256 → tasks of jobs not deleted that use it (a deletion frees those at 0). */
  imageRefs: `${REDIS_PREFIX}image-refs`,
  /**
   * String with a TTL, `freeing` then `freed`: a deletion decided to remove this image's bytes.
   * An upload that stores tasks using it meanwhile writes the bytes again once they are removed.
   */
  imageFreeing: (sha256: string) => `${REDIS_PREFIX}image-freeing:${sha256}`,
  /** Sorted set: an owner's job ids by creation sequence (written with the job). */
  ownerJobs: (owner: string) => `${REDIS_PREFIX}owner:${owner}:jobs`,
  healthProbe: (gatewayId: string) => `${REDIS_PREFIX}health:${gatewayId}`,
  // The edge defences' memory (apps/server/src/edges/): every key expires.
  /** String counter with a TTL: one fixed window (the identity quota, failed sign-ins). */
  edgeWindow: (key: string) => `${REDIS_PREFIX}edge:w:${key}`,
  /** String number with a TTL: a mark (a network's quarantine, its stall halvings). */
  edgeMark: (key: string) => `${REDIS_PREFIX}edge:m:${key}`,
  /** Set with a TTL: the networks that lost a task. */
  edgeSet: (key: string) => `${REDIS_PREFIX}edge:s:${key}`,
  // Webhooks (apps/server/src/webhooks/): every key shares the hash tag `{webhooks}`, so the
  // queue's Lua scripts touch one Cluster slot.
  /** Sorted set (all scores 0, read by id): jobs with a callback URL whose event is not decided. */
  webhookTargetIds: `${REDIS_PREFIX}{webhooks}:target-ids`,
  /** Hash: job id → its callback URL (the members of `webhookTargetIds`). */
  webhookTargets: `${REDIS_PREFIX}{webhooks}:targets`,
  /** Hash: one job's delivery (msgId, url, payload, state, attempts, dueAt, lastError, token). */
  webhookDelivery: (jobId: string) => `${REDIS_PREFIX}{webhooks}:delivery:${jobId}`,
  /** Sorted set: job id → when its pending delivery is due (or its claim's lease ends). */
  webhookDue: `${REDIS_PREFIX}{webhooks}:due`,
  /** Sorted set: job id → when its delivery was decided (delivered or given up), for pruning. */
  webhookSettled: `${REDIS_PREFIX}{webhooks}:settled`,
  /** String: the generated signing secret (`whsec_…`), when `TABGRID_WEBHOOK_SECRET` is unset. */
  webhookSecret: `${REDIS_PREFIX}{webhooks}:secret`,
} as const;
