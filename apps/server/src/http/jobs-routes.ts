import { TabgridError, UploadQuerySchema, formatBytes, type JobCreated } from '@tabgrid/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import type { ServerConfig } from '../config';
import type { SchedulingStore } from '../store/scheduling-store';
import type { UploadStorage } from '../storage/upload-storage';
import type { Webhooks } from '../webhooks';
import { requesterJobView } from '../jobs/job-view';
import { RejectedUploadError } from './rejected-upload-error';
import { UploadBudget } from './upload-budget';
import { readUpload, type ReadUpload } from './upload-reader';

export const ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Multipart overhead allowed on top of the files themselves when checking Content-Length. */
const ENVELOPE_BYTES = 1024 * 1024;

interface Deps {
  config: Pick<
    ServerConfig,
    | 'maxFileBytes'
    | 'maxFiles'
    | 'maxPixels'
    | 'maxQueued'
    | 'maxQueuedPerKey'
    | 'uploadsPerMinute'
    | 'uploadBytesPerMinute'
    | 'concurrentUploadsPerKey'
  >;
  store: SchedulingStore;
  access: JobAccess;
  /** Disk-space and database checks, and the all-or-nothing write of an upload. */
  uploads: UploadStorage;
  /** Called after a job is stored or grows, to dispatch its tasks. */
  onJobCreated: (jobId: string) => void;
  isShuttingDown: () => boolean;
  /** The `callbackUrl` field's check and its storage (apps/server/src/webhooks). */
  webhooks: Pick<Webhooks, 'accept' | 'register'>;
}

/** 404 for a job that does not exist or that the requester does not own (ids cannot be probed). */
export function notFound(id: string): TabgridError {
  return new TabgridError('not_found', `job ${id.slice(0, 64)} does not exist`, 404);
}

/** Refuses an upload that would take a requester over its share of the queue. */
async function checkRequesterShare(deps: Deps, owner: string, adding: number): Promise<void> {
  const unfinished = await deps.access.unfinishedTasks(owner);
  if (unfinished + adding > deps.config.maxQueuedPerKey) {
    throw new TabgridError(
      'queue_full',
      `this key has ${unfinished} unfinished tasks; at most ${deps.config.maxQueuedPerKey} may wait. Retry later`,
      429,
    );
  }
}

async function checkQueue(deps: Deps, adding: number): Promise<void> {
  const queued = await deps.store.queueDepth();
  if (queued + adding > deps.config.maxQueued) {
    throw new TabgridError(
      'queue_full',
      adding <= 1
        ? `the queue is full (${queued} tasks); retry later`
        : `the queue cannot take ${adding} more tasks; retry later`,
      429,
    );
  }
}

/** `?partial=1`, validated. */
function partialOf(request: FastifyRequest): boolean {
  const query = UploadQuerySchema.safeParse(request.query);
  if (!query.success) {
    const field = query.error.issues[0]?.path[0];
    throw new TabgridError(
      'bad_request',
      field === 'expected'
        ? 'expected must be a whole number of photos from 1 to 1000000'
        : 'partial must be one of 0, 1, true, false',
      400,
    );
  }
  return query.data.partial === '1' || query.data.partial === 'true';
}

/** `?expected=N` (validated by {@link partialOf} first), or null. */
const expectedOf = (request: FastifyRequest): number | null => {
  const raw = UploadQuerySchema.parse(request.query).expected;
  return raw === undefined ? null : Number(raw);
};

/**
 * Everything before an upload is stored: the cheap refusals first (shutting down, not multipart,
 * body too large, queue full, disk space), then the body read to temporary files (its bytes
 * counted against the key's budget) and every file validated, then disk space and database
 * health, then the queue checks for the real number of files. A partial upload whose every file
 * was rejected fails with the first file's error. On success the caller discards `received`.
 */
async function receive(
  deps: Deps,
  budget: UploadBudget,
  request: FastifyRequest,
  owner: string,
): Promise<ReadUpload> {
  const { config } = deps;
  if (deps.isShuttingDown()) throw new TabgridError('shutting_down', 'server is shutting down', 503);
  const partial = partialOf(request);
  if (!request.isMultipart()) {
    throw new TabgridError(
      'bad_request',
      'send multipart/form-data with one or more file parts named "images"',
      415,
    );
  }
  const header = request.headers['content-length'];
  const declared = Number(header ?? 0);
  if (declared > config.maxFiles * config.maxFileBytes + ENVELOPE_BYTES) {
    throw new TabgridError(
      'file_too_large',
      `the upload is ${formatBytes(declared)}, over the limit of ${formatBytes(config.maxFiles * config.maxFileBytes)} per request`,
      413,
    );
  }
  await checkQueue(deps, 1);
  await checkRequesterShare(deps, owner, 1);
  // The files go to disk: no room, no reading (the refusal drains the body first, errors.ts).
  await deps.uploads.preflight();

  const upload = await readUpload(
    request,
    config,
    { partial, lengthDeclared: header !== undefined },
    deps.uploads,
    (bytes) => budget.take(owner, bytes),
  );
  try {
    if (upload.good.length === 0 && upload.firstError)
      throw new RejectedUploadError(upload.firstError, upload.rejected);
    // Again once the body is read: the disk may have filled, the database failed, meanwhile.
    await deps.uploads.preflight();
    await checkQueue(deps, upload.good.length);
    await checkRequesterShare(deps, owner, upload.good.length);
  } catch (err) {
    await deps.uploads.discard(upload.received);
    throw err;
  }
  return upload;
}

/**
 * Runs one upload of `owner` within its limits (uploads at once, bytes per minute), and removes
 * its temporary files whatever happens.
 */
async function withUpload<T>(
  deps: Deps,
  budget: UploadBudget,
  request: FastifyRequest,
  owner: string,
  store: (upload: ReadUpload) => Promise<T>,
): Promise<T> {
  const end = budget.begin(owner);
  try {
    const upload = await receive(deps, budget, request, owner);
    try {
      return await store(upload);
    } finally {
      await deps.uploads.discard(upload.received);
    }
  } finally {
    end();
  }
}

/**
 * The HTTP API for requesters (documented in README "HTTP API"). Every route needs a key
 * (see access/requester-auth.ts) and only ever shows the caller's own jobs.
 * Uploads are all-or-nothing by default: every file is read and fully validated before
 * anything is stored; one bad file rejects the whole request. `?partial=1` stores the good
 * files and lists the bad ones (`rejected`, with their codes).
 */
export function registerJobRoutes(app: FastifyInstance, deps: Deps): void {
  const { store } = deps;
  const budget = new UploadBudget(deps.config.concurrentUploadsPerKey, deps.config.uploadBytesPerMinute);

  const uploadLimit = {
    max: deps.config.uploadsPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request: { requester: { name: string } | null; ip: string }) =>
      request.requester ? `key:${request.requester.name}` : `ip:${request.ip}`,
  };

  app.post('/api/jobs', { config: { rateLimit: uploadLimit } }, async (request, reply) => {
    const owner = requesterOf(request).name;
    // Bytes are durable (fsync) before the job row exists and before 201 is sent; all or nothing.
    const { job, rejected, callback } = await withUpload(deps, budget, request, owner, async (upload) => {
      // webhooks hook: the URL is checked (W1, W9) before anything is stored, and kept with the job.
      const callback = upload.callbackUrl === null ? null : await deps.webhooks.accept(upload.callbackUrl);
      return {
        rejected: upload.rejected,
        callback,
        job: await deps.uploads.store(
          upload.good.map((f) => f.file),
          upload.good.map((f) => f.task),
          { owner, isPublic: upload.isPublic },
        ),
      };
    });
    if (callback !== null) await deps.webhooks.register(job.id, callback);
    const expected = expectedOf(request);
    if (expected !== null) await deps.store.setExpected(job.id, expected);
    deps.onJobCreated(job.id);
    const body: JobCreated = { ...job, rejected };
    return reply.status(201).send(body);
  });

  /**
   * Adds photos to one of the caller's jobs (a folder larger than `maxFiles` becomes one job,
   * sent in chunks). Same validation, limits and errors as `POST /api/jobs`; 404 for a job the
   * caller does not own; refused once the job was deleted.
   */
  app.post<{ Params: { id: string } }>(
    '/api/jobs/:id/images',
    { config: { rateLimit: uploadLimit } },
    async (request) => {
      const { id } = request.params;
      const owner = requesterOf(request).name;
      if (!ID.test(id) || !(await deps.access.owns(owner, id))) throw notFound(id);
      const row = await deps.access.get(id);
      if (row?.deletedAt != null)
        throw new TabgridError('bad_request', `job ${id} was deleted; upload to a new job`, 409);
      if (row?.cancelledAt != null)
        throw new TabgridError('bad_request', `job ${id} was cancelled; upload to a new job`, 409);
      const { added, rejected } = await withUpload(deps, budget, request, owner, async (upload) => {
        if (upload.callbackUrl !== null)
          throw new TabgridError(
            'bad_request',
            'callbackUrl is set when the job is created (POST /api/jobs)',
            400,
          );
        return {
          rejected: upload.rejected,
          added: await deps.uploads.append(
            id,
            upload.good.map((f) => f.file),
            upload.good.map((f) => f.task),
          ),
        };
      });
      deps.onJobCreated(id);
      const body: JobCreated = { ...added, rejected };
      return body;
    },
  );

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) => {
    const { id } = request.params;
    const owner = requesterOf(request).name;
    const job =
      ID.test(id) && (await deps.access.owns(owner, id))
        ? await requesterJobView({ store, access: deps.access }, id)
        : null;
    if (!job) throw notFound(id);
    return job;
  });
}
