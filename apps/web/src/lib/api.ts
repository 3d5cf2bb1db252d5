/** Thin typed HTTP client for the job API; errors become ApiRequestError with the server's code. */
import {
  ApiErrorSchema,
  JobCancelledSchema,
  JobCreatedSchema,
  JobDeletedSchema,
  JobListSchema,
  JobViewSchema,
  MeSchema,
  type ExportFormat,
  type JobCancelled,
  type JobCreated,
  type JobDeleted,
  type JobList,
  type JobView,
  type Me,
} from '@tabgrid/protocol';
import { authHeaders } from './apiKey';

export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(response: Response): Promise<ApiRequestError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (proxy error page, etc.)
  }
  const parsed = ApiErrorSchema.safeParse(body);
  if (parsed.success)
    return new ApiRequestError(response.status, parsed.data.error.code, parsed.data.error.message);
  return new ApiRequestError(response.status, 'http_error', `HTTP ${response.status} ${response.statusText}`);
}

/** Every API call carries the signed-in key (`Authorization: Bearer`). */
async function request(input: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(input, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  } catch (err) {
    throw new ApiRequestError(
      0,
      'network_error',
      `cannot reach the server: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/** `POST /api/jobs` with one `images` part per file; `isPublic` shows its results on /live. */
export async function createJob(files: readonly File[], isPublic = false): Promise<JobCreated> {
  const form = new FormData();
  if (isPublic) form.append('public', 'true');
  for (const file of files) form.append('images', file, file.name);
  const response = await request('/api/jobs', { method: 'POST', body: form });
  return JobCreatedSchema.parse(await response.json());
}

/** `GET /api/jobs/:id`. */
export async function fetchJob(id: string): Promise<JobView> {
  const response = await request(`/api/jobs/${encodeURIComponent(id)}`);
  return JobViewSchema.parse(await response.json());
}

/** `GET /api/me`: who the stored key belongs to. */
export async function fetchMe(): Promise<Me> {
  return MeSchema.parse(await (await request('/api/me')).json());
}

/** `GET /api/jobs`: this requester's jobs, newest first, one page. */
export async function listJobs(cursor: string | null = null, limit = 20): Promise<JobList> {
  const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
  return JobListSchema.parse(await (await request(`/api/jobs?${query}`)).json());
}

/** `DELETE /api/jobs/:id`: cancels unfinished tasks, keeps results, frees the images. */
export async function deleteJob(id: string): Promise<JobDeleted> {
  const response = await request(`/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  return JobDeletedSchema.parse(await response.json());
}

/** `POST /api/jobs/:id/cancel`: stops unfinished tasks; the job and its results stay. */
export async function cancelJob(id: string): Promise<JobCancelled> {
  const response = await request(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  return JobCancelledSchema.parse(await response.json());
}

/** A task's image fetched with the key (an `<img>` cannot send it), as a blob: URL. */
export async function fetchImageUrl(url: string): Promise<string> {
  return URL.createObjectURL(await (await request(url)).blob());
}

export const taskImageUrl = (jobId: string, taskId: string) =>
  `/api/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(taskId)}/image`;

/**
 * `GET /api/jobs/:id/export?format=…` fetched with the key (a plain link cannot send it) and
 * saved through a blob: URL under the server's file name.
 */
export async function downloadExport(id: string, format: ExportFormat): Promise<void> {
  const response = await request(`/api/jobs/${encodeURIComponent(id)}/export?format=${format}`);
  const disposition = response.headers.get('content-disposition') ?? '';
  const name =
    /filename="([^"]+)"/.exec(disposition)?.[1] ?? `tabgrid-${id}.${format === 'csv' ? 'csv' : 'json'}`;
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
