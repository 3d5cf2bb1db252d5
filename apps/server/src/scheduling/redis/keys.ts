/** How many recent results `tg:live:recent` keeps (the `/live` snapshot shows up to 24 of them). */
export const RECENT_RESULTS_KEPT = 200;

/**
 * The Redis key layout of the scheduling store (ARCHITECTURE.md, "Redis scheduling").
 * Everything starts with `tg:`. A job's keys share the hash tag `{job:ID}`, so under
 * Redis Cluster they live in one slot and one Lua script may touch them all.
 */
export const KEYS = {
  /** Sorted set: job id → creation sequence (listing, recovery). */
  jobs: 'tg:jobs',
  /** Counter behind `tg:jobs`' scores. */
  jobSeq: 'tg:jobs:seq',
  /** Hash of task counts by status over every job (live statistics). */
  counts: 'tg:counts',
  /** List of `jobId taskId`, newest first: tasks that became done (capped, `RECENT_RESULTS_KEPT`). */
  recentResults: 'tg:live:recent',
  /** Set of image hashes any task refers to. */
  images: 'tg:images',
  /** The task stream; entries `{ j: jobId, t: taskId }`. */
  stream: 'tg:tasks',
  /** The stream's consumer group; each gateway is one consumer. */
  group: 'gateways',
  /** Held (SET NX PX) by the gateway currently acting as janitor. */
  janitorLock: 'tg:janitor:lock',
  /** Pub/sub channel: the id of a job just cancelled (every gateway drops its cached tasks). */
  cancels: 'tg:cancels',
  /** Per gateway, with a TTL renewed while it lives. */
  alive: (gatewayId: string) => `tg:gw:${gatewayId}:alive`,
  /** Hash: task id → job id, in 64 buckets by the id's last character (image routes). */
  taskJob: (taskId: string) => `tg:task-job:${taskId.slice(-1)}`,
  /** Hash: id, seq, createdAt, owner, public, nextIdx. */
  job: (jobId: string) => `tg:{job:${jobId}}:meta`,
  /** Hash: task id → task JSON (record + view timings). */
  tasks: (jobId: string) => `tg:{job:${jobId}}:tasks`,
  /** Hash: task id → status (what the write-once script checks). */
  status: (jobId: string) => `tg:{job:${jobId}}:status`,
  /** Hash: status → number of the job's tasks in it. */
  jobCounts: (jobId: string) => `tg:{job:${jobId}}:counts`,
} as const;
