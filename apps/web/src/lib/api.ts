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

/** Jobs the dashboard lists at first (the newest; "Older jobs" asks for more). */
export const FIRST_JOBS_PAGE = 5;

const asked = new Map<string, Promise<unknown>>();

/**
 * Asks at once, as the page's code starts, for what the dashboard needs first with the stored
 * key: the key's check (`GET /api/me`) and its newest jobs, side by side, rather than one after
 * the other once the page has rendered. Each answer is taken once by {@link askedEarly}.
 */
export function askDashboardEarly(): void {
  const key = currentApiKey();
  if (!key) return;
  for (const [what, ask] of [
    ['me', fetchMe],
    ['jobs', () => listJobs(null, FIRST_JOBS_PAGE)],
  ] as const) {
    const answer = ask();
    answer.catch(() => undefined); // a refused key or a network failure: the page asks again and says so
    asked.set(`${what} ${key}`, answer);
  }
}

/** The early answer for `what` with `key` if there is one (taken once), else `ask()` now. */
export function askedEarly<T>(what: 'me' | 'jobs', key: string, ask: () => Promise<T>): Promise<T> {
  const early = asked.get(`${what} ${key}`) as Promise<T> | undefined;
  asked.delete(`${what} ${key}`);
  return early ?? ask();
}

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
