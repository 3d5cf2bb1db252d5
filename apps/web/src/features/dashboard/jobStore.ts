import type { JobCreated, JobView } from '@tabgrid/protocol';

/** What we know about a job right after `POST /api/jobs`, before the first view arrives. */
export function placeholderView(created: JobCreated): JobView {
  return {
    id: created.id,
    status: 'queued',
    createdAt: Date.now(),
    tasks: created.tasks.map((t) => ({
      id: t.id,
      name: t.name,
      status: 'queued',
      width: 0,
      height: 0,
      detections: [],
      timings: { submittedAt: null, assignedAt: null, ackedAt: null, completedAt: null },
      attempts: 0,
      error: null,
      verification: null,
      agreeing: 0,
    })),
  };
}

export function jobProgress(job: JobView): { done: number; failed: number; total: number } {
  let done = 0;
  let failed = 0;
  for (const t of job.tasks) {
    if (t.status === 'done') done++;
    else if (t.status === 'failed') failed++;
  }
  return { done, failed, total: job.tasks.length };
}
