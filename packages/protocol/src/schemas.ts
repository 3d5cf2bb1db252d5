/**
 * Payload schemas. Every inbound payload is parsed with one of these at the
 * server boundary, and the TypeScript types below are derived from them, so a
 * shape is written down exactly once (PROTOCOL.md rule P2).
 */
import { z } from 'zod';

// In a browser page or worker, zod must not probe for eval: the app's CSP forbids it and the probe
// alone is reported as a violation. Set here, where every protocol schema is defined, so it holds
// whichever chunk the bundler evaluates first (apps/web/src/lib/zodConfig.ts sets it too). Node
// (server, agent) keeps zod's fast path.
const g = globalThis as { document?: unknown; importScripts?: unknown };
if (g.document !== undefined || typeof g.importScripts === 'function') z.config({ jitless: true });
import { ERROR_CODES, TASK_FAILURE_CODES } from './errors';

/** Limits that are part of the contract. */
export const LIMITS = {
  /** Most detections one result may carry. */
  maxDetections: 300,
  /** Longest free-text message a volunteer may send. */
  maxMessageLength: 500,
  /** Largest inbound socket payload, bytes (enforced by Socket.IO's maxHttpBufferSize). */
  maxSocketPayloadBytes: 256 * 1024,
} as const;

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'ids are [A-Za-z0-9_-]');
const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** A box in pixels of the original image: `[x1, y1, x2, y2]`, x1 <= x2, y1 <= y2. */
export const BoxSchema = z
  .tuple([finite, finite, finite, finite])
  .refine(([x1, y1, x2, y2]) => x1 <= x2 && y1 <= y2, 'box must be [x1, y1, x2, y2] with x1<=x2, y1<=y2');

export const DetectionSchema = z.object({
  label: z.string().min(1).max(64),
  score: finite.pipe(z.number().min(0).max(1)),
  box: BoxSchema,
});
export type Detection = z.infer<typeof DetectionSchema>;

// ---------------------------------------------------------------- handshake

/** A server-issued identity token: 43 base64url characters (256 random bits). */
export const IdentityTokenSchema = z
  .string()
  .length(43)
  .regex(/^[A-Za-z0-9_-]+$/, 'tokens are base64url');

/**
 * `socket.handshake.auth` of a volunteer connection. A new volunteer sends no
 * `volunteerId`/`token` and is issued both in `hello`; a returning one sends
 * both (PROTOCOL.md rules I1-I3). One without the other is refused.
 */
export const VolunteerAuthSchema = z.object({
  protocolVersion: z.number().int(),
  /** The server-issued id this volunteer resumes; requires `token`. */
  volunteerId: id.optional(),
  /** The secret token issued with `volunteerId`. */
  token: IdentityTokenSchema.optional(),
  kind: z.enum(['browser', 'agent']),
  /** Free-form description of the runtime (backend, threads), shown in the live view. */
  runtime: z.string().max(200).optional(),
  /**
   * How many tasks the volunteer runs at once (e.g. its worker pool size). Omitted = 1. The
   * server lets it hold `slots + 1` (one prefetched), capped server-side (see `hello.maxInFlight`).
   */
  slots: z.number().int().min(1).max(8).optional(),
});
export type VolunteerAuth = z.infer<typeof VolunteerAuthSchema>;

/**
 * `socket.handshake.auth` of a live-view / dashboard connection. Without `apiKey` the viewer is
 * anonymous (public results and figures only); with a valid one it also sees its own jobs.
 */
export const LiveAuthSchema = z.object({
  protocolVersion: z.number().int(),
  apiKey: z.string().min(1).max(200).optional(),
});
export type LiveAuth = z.infer<typeof LiveAuthSchema>;

// ---------------------------------------------------------- volunteer -> server

export const TaskResultSchema = z.object({
  assignmentId: id,
  detections: z.array(DetectionSchema).max(LIMITS.maxDetections),
  /** Time the volunteer spent in `session.run` (plus pre/post-processing), ms. */
  inferenceMs: finite.pipe(z.number().min(0).max(600_000)),
});
export type TaskResult = z.infer<typeof TaskResultSchema>;

export const TaskErrorSchema = z.object({
  assignmentId: id,
  code: z.enum(TASK_FAILURE_CODES),
  message: z.string().max(LIMITS.maxMessageLength),
});
export type TaskErrorReport = z.infer<typeof TaskErrorSchema>;

export const HeartbeatSchema = z.object({
  assignmentIds: z.array(id).max(16),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export const VolunteerStateSchema = z.object({
  /** false = paused: keep the connection, take no new tasks. */
  accepting: z.boolean(),
});
export type VolunteerState = z.infer<typeof VolunteerStateSchema>;

// ---------------------------------------------------------- live -> server

export const JobWatchSchema = z.object({
  jobId: id,
  /**
   * `true`: this connection gets `job:changes` (only what changed) for the job instead of whole
   * views in `job:update` (rule L12). Absent: `job:update`, as before.
   */
  changes: z.boolean().optional(),
});
export type JobWatch = z.infer<typeof JobWatchSchema>;

// ---------------------------------------------------------- server -> clients
// (Outbound shapes. Schemas too, so tests and the HTTP client can validate them.)

export const ModelInfoSchema = z.object({
  url: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int(),
  labels: z.array(z.string()),
  inputSize: z.number().int(),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

export const HelloSchema = z.object({
  /** This volunteer's server-issued id (private: never shown to anyone else). */
  volunteerId: id,
  /**
   * Only when the identity was issued by this handshake: the secret the volunteer must keep and
   * present (with `volunteerId`) to resume it. Never sent again.
   */
  token: IdentityTokenSchema.optional(),
  /** The public, pseudonymous name the live view shows for this volunteer. */
  displayName: z.string().min(1).max(64),
  model: ModelInfoSchema,
  /** An assignment lapses this long after its last renewal. */
  leaseMs: z.number().int(),
  /** Renew held leases this often (half the lease). */
  heartbeatMs: z.number().int(),
  /** The server never gives this volunteer more than this many tasks at once (its slots + 1, capped). */
  maxInFlight: z.number().int(),
});
export type Hello = z.infer<typeof HelloSchema>;

/**
 * `volunteer:credits` (server -> volunteer, optional; rule C1): this volunteer's credit totals from
 * the server's ledger. 10 credits = one photo inferred at the model's input size (416x416), plus a
 * quick-return bonus. `pending` credits wait for verification and may still be revoked; `granted`
 * ones were verified (they too are revoked if backtracking finds the result wrong). `today` counts
 * entries created since 00:00 UTC.
 */
const credit = z.number().int();
export const VolunteerCreditsSchema = z.object({
  today: z.object({ pending: credit, granted: credit }),
  total: z.object({ pending: credit, granted: credit, revoked: credit }),
  /** Whether this volunteer's quick results currently earn the quick-return bonus. */
  quickBonus: z.boolean(),
});
export type VolunteerCredits = z.infer<typeof VolunteerCreditsSchema>;

export const TaskAssignmentSchema = z.object({
  assignmentId: id,
  taskId: id,
  jobId: id,
  name: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  mime: z.string(),
  imageSha256: z.string(),
  /** The original image bytes (binary Socket.IO attachment, never base64). */
  image: z.custom<ArrayBuffer | Uint8Array>((v) => v instanceof ArrayBuffer || v instanceof Uint8Array),
  leaseMs: z.number().int(),
});
export type TaskAssignment = z.infer<typeof TaskAssignmentSchema>;

export const TASK_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const epochMs = z.number().nullable();

export const TASK_VERIFICATIONS = ['replicated', 'refereed', 'trusted', 'spot-checked'] as const;
export type TaskVerification = (typeof TASK_VERIFICATIONS)[number];

export const TaskViewSchema = z.object({
  id,
  name: z.string(),
  status: z.enum(TASK_STATUSES),
  width: z.number().int(),
  height: z.number().int(),
  detections: z.array(DetectionSchema),
  timings: z.object({
    submittedAt: epochMs,
    assignedAt: epochMs,
    ackedAt: epochMs,
    completedAt: epochMs,
    /**
     * How long the inference of the published result took (ms): the volunteer's own report, or
     * the server referee's run for a `refereed` task. Null until done, or when not known. Absent
     * from older servers.
     */
    inferenceMs: z.number().nullable().optional(),
  }),
  /** How many assignments this task has had. */
  attempts: z.number().int(),
  /** Why the task failed, when status is `failed`. */
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  /**
   * How the final result was verified (PROTOCOL.md rule V8): `replicated` (two independent
   * volunteers agreed), `refereed` (the server's own run settled it), `trusted` (a trusted
   * volunteer's result, final at once), `spot-checked` (a trusted volunteer's result that a
   * replica confirmed). Null until the task is done, or when the server runs without verification.
   */
  verification: z.enum(TASK_VERIFICATIONS).nullable(),
  /** How many results agreed with the final one (the server referee counts as one). */
  agreeing: z.number().int(),
  /**
   * The first 16 hex digits of the SHA-256 of the photo's bytes as uploaded: a resumed upload tells
   * a different file with the same name from the one the job has. Absent from older servers.
   */
  digest: z.string().optional(),
});
export type TaskView = z.infer<typeof TaskViewSchema>;

export const JobViewSchema = z.object({
  id,
  status: z.enum(TASK_STATUSES),
  createdAt: z.number(),
  tasks: z.array(TaskViewSchema),
  /** `GET /api/jobs/:id` only: when the owner cancelled the job (null: not cancelled). */
  cancelledAt: z.number().nullable().optional(),
  /** `GET /api/jobs/:id` only: photos the requester meant to send (null: not said). */
  expected: z.number().int().nullable().optional(),
});
export type JobView = z.infer<typeof JobViewSchema>;

/** A job's tasks by status, and all of them. */
export const JobCountsSchema = z.object({
  total: z.number().int(),
  queued: z.number().int(),
  running: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
});
export type JobCounts = z.infer<typeof JobCountsSchema>;

/**
 * `job:changes` (rule L12): what changed in a watched job since the previous `job:changes`: the
 * tasks that changed or were added (in upload order), the job's status and its counts after them.
 */
export const JobChangesSchema = z.object({
  id,
  status: z.enum(TASK_STATUSES),
  counts: JobCountsSchema,
  tasks: z.array(TaskViewSchema),
});
export type JobChanges = z.infer<typeof JobChangesSchema>;

/** A job's counts from its task views. */
export function jobCounts(tasks: readonly Pick<TaskView, 'status'>[]): JobCounts {
  const counts: JobCounts = { total: tasks.length, queued: 0, running: 0, done: 0, failed: 0 };
  for (const t of tasks) counts[t.status]++;
  return counts;
}

/**
 * A watcher's view after `changes` (rule L12): each changed task replaces the one with its id, a
 * task not yet known is added at the end. `consistent` is false when the result's counts differ
 * from the server's: a change was missed (e.g. a push lost between gateways), so the watcher
 * watches again (the ack carries the whole view). Returns the same view when nothing changed.
 */
export function applyJobChanges(view: JobView, changes: JobChanges): { view: JobView; consistent: boolean } {
  let tasks = view.tasks;
  if (changes.tasks.length > 0) {
    const at = new Map(view.tasks.map((t, i) => [t.id, i]));
    tasks = view.tasks.slice();
    for (const t of changes.tasks) {
      const i = at.get(t.id);
      if (i === undefined) {
        at.set(t.id, tasks.length);
        tasks.push(t);
      } else tasks[i] = t;
    }
  }
  const next =
    tasks === view.tasks && view.status === changes.status
      ? view
      : { ...view, status: changes.status, tasks };
  const mine = jobCounts(tasks);
  const theirs = changes.counts;
  const consistent =
    mine.total === theirs.total &&
    mine.queued === theirs.queued &&
    mine.running === theirs.running &&
    mine.done === theirs.done &&
    mine.failed === theirs.failed;
  return { view: next, consistent };
}

/** A file of an upload that was not stored (`?partial=1`), with the code an all-or-nothing upload would fail with. */
export const RejectedFileSchema = z.object({
  /** Position of the file among the request's `images` parts (0-based). */
  index: z.number().int(),
  name: z.string(),
  code: z.enum(ERROR_CODES),
  message: z.string(),
});
export type RejectedFile = z.infer<typeof RejectedFileSchema>;

export const ApiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** A `?partial=1` upload whose every file was bad: each file with its own code. */
    rejected: z.array(RejectedFileSchema).optional(),
  }),
});

/**
 * `POST /api/jobs` (201) and `POST /api/jobs/:id/images` (200): the tasks just stored. `rejected`
 * lists the files left out by `?partial=1` (always empty without it: one bad file fails the request).
 */
export const JobCreatedSchema = z.object({
  id,
  tasks: z.array(z.object({ id, name: z.string() })),
  rejected: z.array(RejectedFileSchema).optional(),
});
export type JobCreated = z.infer<typeof JobCreatedSchema>;

/** Query of `POST /api/jobs` and `POST /api/jobs/:id/images`: `partial=1` stores the good files of a mixed batch. */
export const UploadQuerySchema = z.object({
  partial: z.enum(['0', '1', 'true', 'false']).optional(),
  /**
   * `POST /api/jobs` only: how many photos the requester means to send to this job in all (its
   * first request and the `POST /api/jobs/:id/images` that follow), 1 to 1,000,000. The job view
   * then tells an upload that stopped early (`expected` > tasks) from a finished one.
   */
  expected: z
    .string()
    .regex(/^[1-9]\d{0,6}$/)
    .refine((v) => Number(v) <= 1_000_000)
    .optional(),
});
export type UploadQuery = z.infer<typeof UploadQuerySchema>;

export const EXPORT_FORMATS = ['coco', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** Query of `GET /api/jobs/:id/export`. */
export const ExportQuerySchema = z.object({ format: z.enum(EXPORT_FORMATS) });

/**
 * `GET /api/jobs/:id/export?format=coco`: COCO detection results in the dataset layout
 * (https://cocodataset.org/#format-data). `bbox` is `[x, y, width, height]` in pixels of the
 * original image; `category_id` is the official COCO id (1..90 with gaps).
 */
export const CocoExportSchema = z.object({
  info: z.object({ description: z.string(), version: z.string(), date_created: z.string() }),
  licenses: z.array(z.object({ id: z.number().int(), name: z.string(), url: z.string() })),
  images: z.array(
    z.object({
      id: z.number().int(),
      file_name: z.string(),
      width: z.number().int(),
      height: z.number().int(),
    }),
  ),
  annotations: z.array(
    z.object({
      id: z.number().int(),
      image_id: z.number().int(),
      category_id: z.number().int(),
      bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]),
      area: z.number(),
      score: z.number(),
      iscrowd: z.literal(0),
    }),
  ),
  categories: z.array(z.object({ id: z.number().int(), name: z.string(), supercategory: z.string() })),
});
export type CocoExport = z.infer<typeof CocoExportSchema>;

export type ApiError = z.infer<typeof ApiErrorSchema>;

/** `GET /healthz`: 200 with `status: 'ok'`, or 503 with `status: 'unhealthy'` and the failing dependencies. */
export const HealthSchema = z.object({
  status: z.enum(['ok', 'unhealthy']),
  volunteersOnline: z.number().int(),
  /** Every dependency probed (`database`, `disk`, …) and whether it answered. */
  dependencies: z.array(z.object({ name: z.string(), ok: z.boolean() })),
  /** The failing ones: what went wrong, and since when (ms since the epoch). */
  failing: z.array(z.object({ name: z.string(), error: z.string(), since: z.number() })),
});
export type Health = z.infer<typeof HealthSchema>;

export const LatencySummarySchema = z.object({
  count: z.number().int(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
});
export type LatencySummary = z.infer<typeof LatencySummarySchema>;

/**
 * Connected volunteers by what they can do now (rule L11). `ready` are able to take work: not
 * paused and not quarantined; `working` hold at least one task; `paused` said they take no work
 * (`volunteer:accepting` false); `quarantined` get only canaries until they earn trust again.
 */
export const VolunteerCountsSchema = z.object({
  online: z.number().int(),
  ready: z.number().int(),
  working: z.number().int(),
  paused: z.number().int(),
  quarantined: z.number().int(),
});
export type VolunteerCounts = z.infer<typeof VolunteerCountsSchema>;

export const LiveStatsSchema = z.object({
  at: z.number(),
  /** Connected volunteers, paused or not (`volunteers.ready` are those able to take work). */
  volunteersOnline: z.number().int(),
  /** Connected volunteers by state (rule L11). Absent from older servers. */
  volunteers: VolunteerCountsSchema.optional(),
  tasks: z.object({
    queued: z.number().int(),
    running: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
  }),
  /** Over the last minute: assign -> ack. */
  ackLatencyMs: LatencySummarySchema,
  /** Over the last minute: submitted -> result stored. */
  resultLatencyMs: LatencySummarySchema,
  /** Over the last minute: inference time the volunteers reported. */
  inferenceMs: LatencySummarySchema,
  /** Results stored in the last minute. */
  resultsLastMinute: z.number().int(),
  /** Leases that ended without a result and put their task back in the queue, last minute. */
  requeuedLastMinute: z.number().int(),
  /** The server's event-loop delay since the previous figures (about a second). */
  eventLoopLagMs: z.object({
    p50: z.number().nullable(),
    p99: z.number().nullable(),
    max: z.number().nullable(),
  }),
  /**
   * Optional (rule L8): the top 10 volunteers by granted credits, by public display name (never
   * the id). Omitted by servers without a credit ledger.
   */
  leaderboard: z
    .array(z.object({ displayName: z.string(), credits: z.number().int() }))
    .max(10)
    .optional(),
});
export type LiveStats = z.infer<typeof LiveStatsSchema>;

export const LiveResultSchema = z.object({
  /** Opaque, stable per task; grants nothing (PROTOCOL.md rule L3). */
  id: z.string(),
  /** Only on the owner's own results. */
  jobId: id.optional(),
  /** Only on the owner's own results. */
  taskId: id.optional(),
  /** True when the result is from one of the viewer's own jobs. */
  own: z.boolean(),
  name: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  /** A signed URL of the original image that expires (PROTOCOL.md rule L4). */
  imageUrl: z.string(),
  detections: z.array(DetectionSchema),
  /** The pseudonymous display name of the volunteer that computed it (never its id). */
  volunteerName: z.string(),
  inferenceMs: z.number(),
  /** submitted -> stored, ms. */
  latencyMs: z.number(),
  completedAt: z.number(),
});
export type LiveResult = z.infer<typeof LiveResultSchema>;

/**
 * One point of the live wall's charts (PROTOCOL.md rule L7): the figures of one
 * `live:stats` tick, reduced to what the charts draw.
 */
export const LiveHistoryPointSchema = z.object({
  at: z.number(),
  /** Results stored in the minute before `at`. */
  resultsPerMinute: z.number().int(),
  volunteersOnline: z.number().int(),
  /** Submitted -> result stored, over the minute before `at` (ms; null without results). */
  resultP50: z.number().nullable(),
  resultP95: z.number().nullable(),
  /** Assign -> ack p95 over the minute before `at` (ms). */
  ackP95: z.number().nullable(),
});
export type LiveHistoryPoint = z.infer<typeof LiveHistoryPointSchema>;

/** The chart point of one `live:stats` tick (the server's history and the viewer's appends alike). */
export const liveHistoryPoint = (s: LiveStats): LiveHistoryPoint => ({
  at: s.at,
  resultsPerMinute: s.resultsLastMinute,
  volunteersOnline: s.volunteersOnline,
  resultP50: s.resultLatencyMs.p50,
  resultP95: s.resultLatencyMs.p95,
  ackP95: s.ackLatencyMs.p95,
});

export const LiveSnapshotSchema = z.object({
  stats: LiveStatsSchema,
  recent: z.array(LiveResultSchema),
  /** The last 10 minutes, one point per 5 s, oldest first (rule L7). Absent from older servers. */
  history: z.array(LiveHistoryPointSchema).max(200).optional(),
});
export type LiveSnapshot = z.infer<typeof LiveSnapshotSchema>;

// ---------------------------------------------------------- requester API (HTTP)

/** `GET /api/me`: who the presented key belongs to. */
export const MeSchema = z.object({
  name: z.string(),
  /** Where the key comes from: the environment (`TABGRID_API_KEYS`) or the key store. */
  source: z.enum(['env', 'store']),
  /** Upload limits, so that a client can send a large folder in chunks and skip oversized files. */
  limits: z.object({
    /** Files per upload request (`TABGRID_MAX_FILES`). */
    maxFiles: z.number().int(),
    /** Bytes per file (`TABGRID_MAX_FILE_BYTES`). */
    maxFileBytes: z.number().int(),
  }),
});
export type Me = z.infer<typeof MeSchema>;

/** One row of `GET /api/jobs`. */
export const JobSummarySchema = z.object({
  id,
  status: z.enum(TASK_STATUSES),
  createdAt: z.number(),
  public: z.boolean(),
  /** Set once `DELETE /api/jobs/:id` ran: unfinished tasks were cancelled, image bytes freed. */
  deletedAt: z.number().nullable(),
  /**
   * Set once `POST /api/jobs/:id/cancel` ran: unfinished tasks were cancelled, finished results
   * kept. Absent from older servers.
   */
  cancelledAt: z.number().nullable().optional(),
  /**
   * How many photos the requester meant to send (`expected` on `POST /api/jobs`); null when not
   * said. Fewer tasks than this: the upload stopped before the rest arrived. Absent from older servers.
   */
  expected: z.number().int().nullable().optional(),
  tasks: z.object({
    total: z.number().int(),
    queued: z.number().int(),
    running: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
  }),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** `GET /api/jobs?limit&cursor`: the caller's jobs, newest first. */
export const JobListSchema = z.object({
  jobs: z.array(JobSummarySchema),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type JobList = z.infer<typeof JobListSchema>;

/** `DELETE /api/jobs/:id`. */
export const JobDeletedSchema = z.object({
  id,
  /** Unfinished tasks cancelled by this call. */
  cancelled: z.number().int(),
  /** Image files removed from the server's disk (bytes no other job uses). */
  imagesDeleted: z.number().int(),
  deletedAt: z.number(),
});
export type JobDeleted = z.infer<typeof JobDeletedSchema>;

/** `POST /api/jobs/:id/cancel`: the job stays, with its finished results. */
export const JobCancelledSchema = z.object({
  id,
  /** Unfinished tasks cancelled by this call (0 when repeated). */
  cancelled: z.number().int(),
  /** When the job was first cancelled. */
  cancelledAt: z.number(),
});
export type JobCancelled = z.infer<typeof JobCancelledSchema>;

/** `20 MiB`, `512 KiB`, `900 bytes`: a byte count as people read it (limits and errors). */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let value = bytes;
  let unit = 'bytes';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}

/** `60`, `40`, `0.3`: a pixel count in megapixels as people read it. */
export function formatMegapixels(pixels: number): string {
  const mp = pixels / 1_000_000;
  return mp >= 10 ? String(Math.round(mp)) : String(Math.round(mp * 10) / 10);
}
