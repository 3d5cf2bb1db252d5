import { ExportQuerySchema, TabgridError } from '@tabgrid/protocol';
import type { FastifyInstance } from 'fastify';
import type { JobAccess } from '../access/job-access';
import { requesterOf } from '../access/requester-auth';
import type { SchedulingStore } from '../store/scheduling-store';
import { toCoco } from './export/coco';
import { toCsv } from './export/csv';
import { ID, notFound } from './jobs-routes';
import { requesterJobView } from '../jobs/job-view';

interface Deps {
  store: Pick<SchedulingStore, 'getJob'>;
  access: Pick<JobAccess, 'owns' | 'get'>;
  now: () => number;
}

/**
 * `GET /api/jobs/:id/export?format=coco|csv|json`: the caller's job as a download
 * (`Content-Disposition: attachment`). 404 for a job the caller does not own.
 */
export function registerExportRoutes(app: FastifyInstance, deps: Deps): void {
  app.get<{ Params: { id: string } }>('/api/jobs/:id/export', async (request, reply) => {
    const { id } = request.params;
    const query = ExportQuerySchema.safeParse(request.query);
    if (!query.success) throw new TabgridError('bad_request', 'format must be one of coco, csv, json', 400);
    const job =
      ID.test(id) && (await deps.access.owns(requesterOf(request).name, id))
        ? await requesterJobView(deps, id)
        : null;
    if (!job) throw notFound(id);
    const { format } = query.data;
    const file = `tabgrid-${id}${format === 'coco' ? '-coco' : ''}.${format === 'csv' ? 'csv' : 'json'}`;
    void reply.header('content-disposition', `attachment; filename="${file}"`);
    if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(toCsv(job));
    // json: the GET /api/jobs/:id body (jobs/job-view.ts).
    const body = format === 'coco' ? toCoco(job, new Date(deps.now())) : job;
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(body));
  });
}
