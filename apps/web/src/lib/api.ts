/** Thin typed HTTP client for the job API; errors become ApiRequestError with the server's code. */
import {
  ApiErrorSchema,
  JobCreatedSchema,
  JobViewSchema,
  type JobCreated,
  type JobView,
} from '@tabgrid/protocol';

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

async function request(input: string, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(input, init);
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

/** `POST /api/jobs` with one `images` part per file. */
export async function createJob(files: readonly File[]): Promise<JobCreated> {
  const form = new FormData();
  for (const file of files) form.append('images', file, file.name);
  const response = await request('/api/jobs', { method: 'POST', body: form });
  return JobCreatedSchema.parse(await response.json());
}

/** `GET /api/jobs/:id`. */
export async function fetchJob(id: string): Promise<JobView> {
  const response = await request(`/api/jobs/${encodeURIComponent(id)}`);
  return JobViewSchema.parse(await response.json());
}

export const taskImageUrl = (jobId: string, taskId: string) =>
  `/api/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(taskId)}/image`;
