import type { TabgridClient } from '@tabgrid/client';
import type { ExportFormat, JobSummary } from '@tabgrid/protocol';
import { counts, writeExport, type Output } from './results';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

const row = (j: JobSummary) =>
  [
    j.id.padEnd(28),
    (j.deletedAt === null ? j.status : 'deleted').padEnd(8),
    when(j.createdAt),
    `${j.tasks.done}/${j.tasks.total} done`.padEnd(14),
    j.tasks.failed ? `${j.tasks.failed} failed` : '',
    j.public ? 'public' : '',
  ]
    .join('  ')
    .trimEnd();

/** `tabgrid jobs`: the key's jobs, newest first (every page, or the first `limit`). */
export async function listJobs(
  client: TabgridClient,
  options: { json?: boolean; limit?: number },
  out: Output,
): Promise<void> {
  let n = 0;
  for await (const job of client.jobs()) {
    if (options.limit !== undefined && n >= options.limit) break;
    out.result(options.json ? `${JSON.stringify(job)}\n` : `${row(job)}\n`);
    n++;
  }
  if (n === 0 && !options.json) out.note('no jobs yet');
}

/** `tabgrid status <id>`: the job's status and task counts (or its whole view as JSON). */
export async function showStatus(
  client: TabgridClient,
  id: string,
  options: { json?: boolean },
  out: Output,
): Promise<void> {
  const job = await client.job(id);
  if (options.json) {
    out.result(`${JSON.stringify(job, null, 2)}\n`);
    return;
  }
  out.result(
    `${job.id}  ${job.status}  created ${when(job.createdAt)}\n${job.tasks.length} photos: ${counts(job)}\n`,
  );
  for (const t of job.tasks.filter((t) => t.status === 'failed'))
    out.result(`failed ${t.name}: ${t.error ? `${t.error.code}: ${t.error.message}` : 'no reason given'}\n`);
}

/** `tabgrid export <id> --format … [--out FILE]`. */
export const exportJob = (
  client: TabgridClient,
  id: string,
  options: { format: ExportFormat; out?: string },
  out: Output,
) => writeExport(client, id, options.format, options.out, out);

/**
 * `tabgrid cancel <id>`: stops the job's unfinished tasks; the job, its finished results and its
 * exports stay (cancel is not delete). Idempotent: a repeat stops nothing and keeps the first time.
 */
export async function cancelJob(client: TabgridClient, id: string, out: Output): Promise<void> {
  const cancelled = await client.cancelJob(id);
  out.note(
    `cancelled job ${cancelled.id} (${when(cancelled.cancelledAt)}): ${cancelled.cancelled} unfinished tasks stopped; finished results and exports are kept`,
  );
}

/** `tabgrid delete <id>`. */
export async function deleteJob(client: TabgridClient, id: string, out: Output): Promise<void> {
  const deleted = await client.deleteJob(id);
  out.note(
    `deleted job ${deleted.id}: ${deleted.cancelled} unfinished tasks cancelled, ${deleted.imagesDeleted} images freed`,
  );
}
