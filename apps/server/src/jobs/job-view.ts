import type { JobView } from '@tabgrid/protocol';
import type { JobAccess } from '../access/job-access';
import type { JobRecords } from '../store/scheduling-store';

export interface JobViewDeps {
  store: Pick<JobRecords, 'getJob'>;
  access: Pick<JobAccess, 'get'>;
}

/**
 * A job as its requester sees it: the store's view (tasks, status) with the job fields access reads
 * (`cancelledAt`, `expected`, written by the store's `JobRecords`). The one builder of what `GET /api/jobs/:id`, the json export
 * and a webhook's `data` (PROTOCOL.md W3) carry, so the three cannot drift. Null for no such job.
 */
export async function requesterJobView(deps: JobViewDeps, jobId: string): Promise<JobView | null> {
  const job = await deps.store.getJob(jobId);
  if (!job) return null;
  const row = await deps.access.get(jobId);
  return { ...job, cancelledAt: row?.cancelledAt ?? null, expected: row?.expected ?? null };
}
