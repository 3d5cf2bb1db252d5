import { TabgridError, type JobCreated } from '@tabgrid/protocol';
import type {} from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import type { ServerConfig } from '../config';
import type { SchedulerStore } from '../scheduling/store';
import type { NewTask } from '../scheduling/types';
import type { UploadStorage } from '../storage/upload-storage';
import { validateImage } from '../validation/image';

export const ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Multipart overhead allowed on top of the files themselves when checking Content-Length. */
const ENVELOPE_BYTES = 1024 * 1024;

interface Deps {
  config: Pick<
    ServerConfig,
    'maxFileBytes' | 'maxFiles' | 'maxPixels' | 'maxQueued' | 'maxQueuedPerKey' | 'uploadsPerMinute'
  >;
  store: SchedulerStore;
  access: JobAccess;
  /** Disk-space and database checks, and the all-or-nothing write of an upload. */
  uploads: UploadStorage;
  /** Called after a job is stored, to dispatch its tasks. */
  onJobCreated: (jobId: string) => void;
  isShuttingDown: () => boolean;
}

/** Client file names are labels only: never paths. */
export function checkFileName(name: string, index: number): string {
  if (name === '') return `image-${index + 1}`;
  if (/[/\\]/.test(name) || name.includes('\0') || name === '.' || name === '..') {
    throw new TabgridError(
      'invalid_file_name',
      `images[${index}]: file names may not contain path separators`,
      400,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name) || name.length > 255) {
    throw new TabgridError(
      'invalid_file_name',
      `images[${index}]: file name is too long or has control characters`,
      400,
    );
  }
  return name;
}

/** The `public` form field: on for `true`, `1`, `on` (a checked checkbox), `yes`. */
const truthy = (value: unknown) => typeof value === 'string' && /^(true|1|on|yes)$/i.test(value.trim());

/** 404 for a job that does not exist or that the requester does not own (ids cannot be probed). */
export function notFound(id: string): TabgridError {
  return new TabgridError('not_found', `job ${id.slice(0, 64)} does not exist`, 404);
}

/** Refuses an upload that would take a requester over its share of the queue. */
function checkRequesterShare(deps: Deps, owner: string, adding: number): void {
  const unfinished = deps.access.unfinishedTasks(owner);
  if (unfinished + adding > deps.config.maxQueuedPerKey) {
    throw new TabgridError(
      'queue_full',
      `this key has ${unfinished} unfinished tasks; at most ${deps.config.maxQueuedPerKey} may wait. Retry later`,
      429,
    );
  }
}

/**
 * The HTTP API for requesters (documented in README "HTTP API"). Every route needs a key
 * (see access/requester-auth.ts) and only ever shows the caller's own jobs.
 * Uploads are all-or-nothing: every file is read and fully validated before
 * anything is stored; one bad file rejects the whole request.
 */
export function registerJobRoutes(app: FastifyInstance, deps: Deps): void {
  const { config, store } = deps;

  const uploadLimit = {
    max: config.uploadsPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request: { requester: { name: string } | null; ip: string }) =>
      request.requester ? `key:${request.requester.name}` : `ip:${request.ip}`,
  };

  app.post('/api/jobs', { config: { rateLimit: uploadLimit } }, async (request, reply) => {
    if (deps.isShuttingDown()) throw new TabgridError('shutting_down', 'server is shutting down', 503);
    const owner = requesterOf(request).name;
    if (!request.isMultipart()) {
      throw new TabgridError(
        'bad_request',
        'send multipart/form-data with one or more file parts named "images"',
        415,
      );
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > config.maxFiles * config.maxFileBytes + ENVELOPE_BYTES) {
      throw new TabgridError('file_too_large', `request body of ${declared} bytes is over the limit`, 413);
    }
    if (store.queuedCount >= config.maxQueued) {
      throw new TabgridError(
        'queue_full',
        `the queue is full (${store.queuedCount} tasks); retry later`,
        429,
      );
    }
    checkRequesterShare(deps, owner, 1);

    const files: { name: string; bytes: Buffer }[] = [];
    let isPublic = false;
    // preservePath: busboy would otherwise cut "../x.jpg" down to "x.jpg" before checkFileName sees it.
    for await (const part of request.parts({ preservePath: true })) {
      if (part.type !== 'file') {
        if (part.fieldname === 'public') isPublic = truthy(part.value);
        continue;
      }
      if (part.fieldname !== 'images') {
        part.file.resume();
        throw new TabgridError(
          'bad_request',
          `unexpected file part "${part.fieldname.slice(0, 64)}"; name it "images"`,
          400,
        );
      }
      const index = files.length;
      const name = checkFileName(part.filename ?? '', index);
      let bytes: Buffer;
      // Past the limit busboy discards the rest of the file but ends the stream only at the next
      // boundary, so toBuffer() would wait for the whole (possibly endless) body: stop right here.
      let overLimit = false;
      part.file.once('limit', () => {
        overLimit = true;
        part.file.destroy();
      });
      try {
        bytes = await part.toBuffer();
      } catch (err) {
        if (overLimit || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
          throw new TabgridError(
            'file_too_large',
            `images[${index}] (${name}): over ${config.maxFileBytes} bytes`,
            413,
          );
        }
        throw err;
      }
      files.push({ name, bytes });
    }
    if (files.length === 0)
      throw new TabgridError('no_images', 'no file parts named "images" in the request', 400);
    // Disk space and database health, checked once the body is read (it is only in memory, nothing
    // is written yet): refusing earlier would close the connection under a client still sending,
    // which it sees as EPIPE instead of this answer.
    await deps.uploads.preflight();

    const tasks: NewTask[] = [];
    for (const [index, file] of files.entries()) {
      try {
        const image = await validateImage(file.bytes, config.maxPixels);
        tasks.push({
          name: file.name,
          imageSha256: '',
          mime: image.mime,
          width: image.width,
          height: image.height,
        });
      } catch (err) {
        if (err instanceof TabgridError) {
          throw new TabgridError(err.code, `images[${index}] (${file.name}): ${err.message}`, err.status);
        }
        throw err;
      }
    }
    if (store.queuedCount + tasks.length > config.maxQueued) {
      throw new TabgridError(
        'queue_full',
        `the queue cannot take ${tasks.length} more tasks; retry later`,
        429,
      );
    }
    checkRequesterShare(deps, owner, tasks.length);
    // Bytes are durable (fsync) before the job row exists and before 201 is sent; all or nothing.
    const job = await deps.uploads.store(
      files.map((f) => f.bytes),
      tasks,
      { owner, isPublic },
    );
    deps.onJobCreated(job.id);
    const body: JobCreated = job;
    return reply.status(201).send(body);
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) => {
    const { id } = request.params;
    const owner = requesterOf(request).name;
    const job = ID.test(id) && deps.access.owns(owner, id) ? store.getJob(id) : null;
    if (!job) throw notFound(id);
    return job;
  });
}
