import { TabgridError, type JobDeleted, type JobList, type Me } from '@tabgrid/protocol';
import type { FastifyInstance } from 'fastify';
import { MAX_PAGE, type JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import { ID, notFound } from './jobs-routes';

interface Deps {
  access: JobAccess;
  /** Deletes a job whose owner was checked (`jobs/job-deletion.ts`). */
  deleteJob: (jobId: string) => Promise<JobDeleted>;
  /** Upload limits shown in `GET /api/me`. */
  limits: { maxFiles: number; maxFileBytes: number };
}

/** `GET /api/me`, `GET /api/jobs` (the caller's jobs, newest first, paginated), `DELETE /api/jobs/:id`. */
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
