import { TabgridError, type JobCancelled } from '@tabgrid/protocol';
import type { JobAccess } from '../access/job-access';
import type { JobRecords } from '../store/scheduling-store';

export interface JobCancelDeps {
  access: Pick<JobAccess, 'get'>;
  store: Pick<JobRecords, 'markCancelled'>;
  /** Ends the job's unfinished tasks everywhere and tells their volunteers (`Scheduler.cancelJob`). */
  cancel: (jobId: string) => Promise<number>;
}

/**
 * Cancels a job (its owner was checked) without deleting it: marks it cancelled first, so an
 * upload racing this is refused from then on (jobs-routes.ts), then stops its unfinished tasks
 * (volunteers holding them get `task:cancel`). The job, its finished results, their images and
 * exports stay. Idempotent: a repeat cancels nothing new and keeps the first time. A deleted job
 * answers 409: there is nothing left to cancel.
 */
export async function cancelJob(deps: JobCancelDeps, jobId: string, now: number): Promise<JobCancelled> {
  if ((await deps.access.get(jobId))?.deletedAt != null)
    throw new TabgridError('bad_request', `job ${jobId} was deleted; there is nothing left to cancel`, 409);
  const cancelledAt = await deps.store.markCancelled(jobId, now);
  const cancelled = await deps.cancel(jobId);
  return { id: jobId, cancelled, cancelledAt };
}
