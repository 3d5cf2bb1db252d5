import { TabgridError, type JobCancelled, type JobDeleted, type JobList, type Me } from '@tabgrid/protocol';
import type { FastifyInstance } from 'fastify';
import { MAX_PAGE, type JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import { ID, notFound } from './jobs-routes';

interface Deps {
  access: JobAccess;
  /** Deletes a job whose owner was checked (`jobs/job-deletion.ts`). */
  deleteJob: (jobId: string) => Promise<JobDeleted>;
  /** Cancels a job whose owner was checked, keeping its results (`jobs/job-cancel.ts`). */
  cancelJob: (jobId: string) => Promise<JobCancelled>;
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
   * Cancel is not delete (`jobs/job-cancel.ts`): stops the job's unfinished tasks and marks it
   * cancelled; the job, its finished results and exports stay. Idempotent; 404 for a job the
   * caller does not own, 409 for a deleted one.
   */
  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (request): Promise<JobCancelled> => {
    const { id } = request.params;
    if (!ID.test(id) || !(await deps.access.owns(requesterOf(request).name, id))) throw notFound(id);
    const cancelled = await deps.cancelJob(id);
    request.log.info({ jobId: id, cancelled: cancelled.cancelled }, 'job cancelled');
    return cancelled;
  });

  /** Deletes one of the caller's jobs (`jobs/job-deletion.ts`). Idempotent. */
  app.delete<{ Params: { id: string } }>('/api/jobs/:id', async (request): Promise<JobDeleted> => {
    const { id } = request.params;
    if (!ID.test(id) || !(await deps.access.owns(requesterOf(request).name, id))) throw notFound(id);
    const deleted = await deps.deleteJob(id);
    request.log.info(
      { jobId: id, cancelled: deleted.cancelled, imagesDeleted: deleted.imagesDeleted },
      'job deleted',
    );
    return deleted;
  });
}
