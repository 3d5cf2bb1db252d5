import { TabgridError, type JobCancelled, type JobDeleted, type JobList, type Me } from '@tabgrid/protocol';
import type { FastifyInstance } from 'fastify';
import { MAX_PAGE, type JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import type { Scheduler } from '../scheduling/scheduler';
import type { BlobStore } from '../storage/blob-store';
import { ID, notFound } from './jobs-routes';

interface Deps {
  access: JobAccess;
  scheduler: Pick<Scheduler, 'cancelJob'>;
  blobs: BlobStore;
  /** Upload limits shown in `GET /api/me`. */
  limits: { maxFiles: number; maxFileBytes: number };
}

/**
 * `GET /api/me`, `GET /api/jobs` (the caller's jobs, newest first, paginated),
 * `POST /api/jobs/:id/cancel` (stop, keep the results) and `DELETE /api/jobs/:id`.
 */
export function registerRequesterRoutes(app: FastifyInstance, deps: Deps): void {
  app.get('/api/me', async (request): Promise<Me> => {
    const { name, source } = requesterOf(request);
    return { name, source, limits: deps.limits };
  });

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/api/jobs',
    async (request): Promise<JobList> => {
      const { limit: rawLimit = '20', cursor = null } = request.query;
      const limit = Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
        throw new TabgridError('bad_request', `limit must be an integer from 1 to ${MAX_PAGE}`, 400);
      return deps.access.list(requesterOf(request).name, limit, cursor);
    },
  );

  /**
   * Cancel is not delete: stops the job's unfinished tasks (volunteers holding them get
   * `task:cancel`) and marks it cancelled; the job, its finished results, their images and
   * exports stay. Idempotent (a repeat cancels nothing new and keeps the first time); 404 for a
   * job the caller does not own, 409 for a deleted one.
   */
  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (request): Promise<JobCancelled> => {
    const { id } = request.params;
    if (!ID.test(id) || !(await deps.access.owns(requesterOf(request).name, id))) throw notFound(id);
    if ((await deps.access.get(id))?.deletedAt != null)
      throw new TabgridError('bad_request', `job ${id} was deleted; there is nothing left to cancel`, 409);
    // Marked first: an upload to the job racing this is refused from now on (jobs-routes.ts).
    const cancelledAt = await deps.access.markCancelled(id, Date.now());
    const cancelled = await deps.scheduler.cancelJob(id);
    request.log.info({ jobId: id, cancelled }, 'job cancelled');
    return { id, cancelled, cancelledAt };
  });

  /**
   * Cancels the job's unfinished tasks (volunteers holding them get `task:cancel`), keeps its
   * finished results, and removes image bytes that no other job uses. Idempotent.
   */
  app.delete<{ Params: { id: string } }>('/api/jobs/:id', async (request): Promise<JobDeleted> => {
    const { id } = request.params;
    if (!ID.test(id) || !(await deps.access.owns(requesterOf(request).name, id))) throw notFound(id);
    // Redis mode: the other gateways' share is cancelled in the background; a failure of it (or
    // of the mark) answers 503 and the idempotent DELETE may be sent again.
    const cancelling = deps.scheduler.cancelJob(id);
    cancelling.catch(() => {}); // awaited below unless the mark fails first
    const { deletedAt, freeable, freed } = await deps.access.markDeleted(id, Date.now());
    let cancelled: number;
    let imagesDeleted = 0;
    try {
      // The job's tasks are final in Redis and the cancel announced before its images go (if
      // that failed, they stay: an orphan file, never a task without its image).
      cancelled = await cancelling;
      for (const sha256 of freeable) if (await deps.blobs.delete(sha256)) imagesDeleted++;
    } finally {
      // Uploads of the same bytes on any gateway wait for this, then write them again.
      await freed?.(freeable);
    }
    request.log.info({ jobId: id, cancelled, imagesDeleted }, 'job deleted');
    return { id, cancelled, imagesDeleted, deletedAt };
  });
}
