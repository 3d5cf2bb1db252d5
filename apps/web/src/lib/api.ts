/**
 * The dashboard's requester API: `@tabgrid/client` on the page's origin with the signed-in key.
 * Errors are ApiRequestError with the server's code.
 */
import { TabgridClient } from '@tabgrid/client';
import type { ExportFormat, JobCancelled, JobDeleted, JobList, JobView, Me } from '@tabgrid/protocol';
import { currentApiKey } from './apiKey';

export { ApiRequestError, describeError } from '@tabgrid/client';

/** Same origin; every call carries the signed-in key (`Authorization: Bearer`). */
export const api = new TabgridClient({ apiKey: currentApiKey });

/** `GET /api/jobs/:id`. */
export const fetchJob = (id: string): Promise<JobView> => api.job(id);

/** `GET /api/me`: who the stored key belongs to. */
export const fetchMe = (): Promise<Me> => api.me();

/** `GET /api/jobs`: this requester's jobs, newest first, one page. */
export const listJobs = (cursor: string | null = null, limit = 20): Promise<JobList> =>
  api.listJobs({ cursor, limit });

/** `DELETE /api/jobs/:id`: cancels unfinished tasks, keeps results, frees the images. */
export const deleteJob = (id: string): Promise<JobDeleted> => api.deleteJob(id);

/** `POST /api/jobs/:id/cancel`: stops unfinished tasks; the job and its results stay. */
export const cancelJob = (id: string): Promise<JobCancelled> => api.cancelJob(id);

/** A task's image fetched with the key (an `<img>` cannot send it), as a blob: URL. */
export async function fetchImageUrl(path: string): Promise<string> {
  return URL.createObjectURL(await (await api.request(path)).blob());
}

export const taskImageUrl = (jobId: string, taskId: string) => api.taskImagePath(jobId, taskId);

/**
 * `GET /api/jobs/:id/export?format=…` fetched with the key (a plain link cannot send it) and
 * saved through a blob: URL under the server's file name.
 */
export async function downloadExport(id: string, format: ExportFormat): Promise<void> {
  const { fileName, body } = await api.exportJob(id, format);
  const url = URL.createObjectURL(body);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
