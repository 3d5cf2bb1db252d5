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
  /**
   * Sorted set of a volunteer's published results (a done task's `resultAssignmentId`, however
   * verified; named when only `trusted` ones were indexed), on any gateway (backtracking, rule
   * V7): members `jobId taskId assignmentId`, scored by completion time. See `TRUSTED_INDEX`.
   */
  trusted: (volunteerId: string) => `tg:vol:${volunteerId}:trusted`,
} as const;

/**
 * How much of a volunteer's published results the index keeps: its latest `keep`, for `ttlMs` after
 * its latest one. A caught volunteer's lies are recent (a 1 % turncoat is caught within ~3,800
 * tasks at p95, SECURITY.md), so 10,000 covers them while an always-on volunteer's set stays small.
 */
export const TRUSTED_INDEX = { keep: 10_000, ttlMs: 30 * 24 * 3600_000 } as const;

/** A member of `KEYS.trusted`. */
export interface TrustedRef {
  jobId: string;
  taskId: string;
  assignmentId: string;
}

export const trustedMember = (r: TrustedRef): string => `${r.jobId} ${r.taskId} ${r.assignmentId}`;

export function parseTrustedMember(member: string): TrustedRef | null {
  const [jobId, taskId, assignmentId] = member.split(' ');
  return jobId && taskId && assignmentId ? { jobId, taskId, assignmentId } : null;
}
