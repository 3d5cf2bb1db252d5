import {
  JobCreatedSchema,
  JobCancelledSchema,
  JobDeletedSchema,
  JobListSchema,
  JobViewSchema,
  MeSchema,
  type ExportFormat,
  type JobCreated,
  type JobCancelled,
  type JobDeleted,
  type JobList,
  type JobSummary,
  type JobView,
  type Me,
} from '@tabgrid/protocol';
import type { z } from 'zod';
import {
  uploadInChunks,
  type ChunkedUploadOptions,
  type UploadFile,
  type UploadOutcome,
  type UploadRequest,
  type UploadSender,
} from './chunked-upload';
import { ApiRequestError, errorFromAnswer } from './errors';

export interface ClientOptions {
  /** The server, e.g. `http://localhost:8080`. '' (the default) = same origin, for the dashboard. */
  baseUrl?: string;
  /** The API key, or a function that returns the key to send now (the dashboard's signed-in key). */
  apiKey?: string | null | (() => string | null);
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** A job's export: the server's file name, its type and its bytes. */
export interface ExportFile {
  fileName: string;
  contentType: string;
  body: Blob;
}

/** A job is finished when none of its tasks is queued or running (status `done` or `failed`). */
export const isFinished = (job: Pick<JobView, 'status'>): boolean =>
  job.status === 'done' || job.status === 'failed';

const DEFAULT_POLL_MS = 1000;

/**
 * The typed client of the requester API (README "HTTP API", `GET /api/openapi.json`): every call
 * sends `Authorization: Bearer <key>`, parses the answer with the protocol's zod schema, and fails
 * with an {@link ApiRequestError} carrying the server's error code.
 *
 * @example
 * const client = new TabgridClient({ baseUrl: 'http://localhost:8080', apiKey: process.env.TABGRID_KEY });
 * const { id } = await client.createJob([new File([bytes], 'dog.jpg')]);
 * const job = await client.waitForJob(id);
 */
export class TabgridClient {
  readonly baseUrl: string;
  private readonly key: () => string | null;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    const { apiKey = null } = options;
    this.key = typeof apiKey === 'function' ? apiKey : () => apiKey;
    // Bound: a bare `fetch` called as a method throws "Illegal invocation" in browsers.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** `Authorization: Bearer <key>`, or nothing without a key. */
  authHeaders(): Record<string, string> {
    const key = this.key();
    return key ? { authorization: `Bearer ${key}` } : {};
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** Any API request with the key; a non-2xx answer or no answer at all throws ApiRequestError. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path), {
        ...init,
        headers: { ...this.authHeaders(), ...(init.headers as Record<string, string> | undefined) },
      });
    } catch (err) {
      if (init.signal?.aborted) throw new ApiRequestError(0, 'cancelled', 'request cancelled');
      throw new ApiRequestError(
        0,
        'network_error',
        `cannot reach ${this.baseUrl || 'the server'}: ${reason(err)}`,
      );
    }
    if (!response.ok) {
      let body: unknown = null;
      try {
        body = await response.json();
      } catch {
        // not JSON (a proxy's error page, …)
      }
      throw errorFromAnswer(response.status, response.statusText, body, response.headers.get('retry-after'));
    }
    return response;
  }

  private async json<S extends z.ZodType>(schema: S, path: string, init?: RequestInit): Promise<z.infer<S>> {
    const response = await this.request(path, init);
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    return parseAnswer(schema, body, response.status);
  }

  /** `GET /api/me`: who the key belongs to, and the upload limits. */
  me(): Promise<Me> {
    return this.json(MeSchema, '/api/me');
  }

  /** `GET /api/jobs`: one page of the caller's jobs, newest first; pass `nextCursor` for the next. */
  listJobs(options: { cursor?: string | null; limit?: number } = {}): Promise<JobList> {
    const query = new URLSearchParams({ limit: String(options.limit ?? 20) });
    if (options.cursor) query.set('cursor', options.cursor);
    return this.json(JobListSchema, `/api/jobs?${query}`);
  }

  /** Every job of the caller, newest first, page after page. */
  async *jobs(pageSize = 100): AsyncGenerator<JobSummary> {
    let cursor: string | null = null;
    do {
      const page: JobList = await this.listJobs({ cursor, limit: pageSize });
      yield* page.jobs;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** `GET /api/jobs/:id`: the job with every task's status and detections. */
  job(id: string): Promise<JobView> {
    return this.json(JobViewSchema, `/api/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * The multipart request that creates a job (`jobId` null: `POST /api/jobs`) or adds to one
   * (`POST /api/jobs/:id/images`), with one `images` part per file and `?partial=1` (good files
   * are stored, bad ones listed). For senders of their own (the dashboard's XMLHttpRequest).
   */
  uploadRequest(
    jobId: string | null,
    files: readonly UploadFile[],
    isPublic = false,
    partial = true,
    /** How many photos the whole upload means to send (`?expected=`, at creation only). */
    expected?: number,
  ): UploadRequest {
    const form = new FormData();
    if (isPublic && jobId === null) form.append('public', 'true');
    for (const file of files) form.append('images', file, file.name);
    const path = jobId === null ? '/api/jobs' : `/api/jobs/${encodeURIComponent(jobId)}/images`;
    const query = new URLSearchParams();
    if (partial) query.set('partial', '1');
    if (jobId === null && expected !== undefined) query.set('expected', String(expected));
    const qs = query.toString();
    return { url: this.url(`${path}${qs ? `?${qs}` : ''}`), headers: this.authHeaders(), form };
  }

  /** Sends an upload request with fetch (no upload progress: `onProgress` is called once it is sent). */
  readonly send: UploadSender = async (request, { signal, onProgress }) => {
    const path = request.url.slice(this.baseUrl.length);
    const created = await this.json(JobCreatedSchema, path, {
      method: 'POST',
      body: request.form,
      headers: request.headers,
      signal,
    });
    onProgress(Number.POSITIVE_INFINITY);
    return created;
  };

  /**
   * `POST /api/jobs`: one request, at most `limits.maxFiles` files. All or nothing unless
   * `partial` (then the good files are stored and the bad ones listed in `rejected`).
   */
  createJob(
    files: readonly UploadFile[],
    options: { isPublic?: boolean; partial?: boolean } = {},
  ): Promise<JobCreated> {
    return this.send(this.uploadRequest(null, files, options.isPublic, options.partial ?? false), {
      signal: new AbortController().signal,
      onProgress: () => {},
    });
  }

  /** `POST /api/jobs/:id/images`: adds photos to one of the caller's jobs (same rules as createJob). */
  appendImages(
    id: string,
    files: readonly UploadFile[],
    options: { partial?: boolean } = {},
  ): Promise<JobCreated> {
    return this.send(this.uploadRequest(id, files, false, options.partial ?? false), {
      signal: new AbortController().signal,
      onProgress: () => {},
    });
  }

  /**
   * Any number of files as one job, in requests of `limits.maxFiles` (`GET /api/me`), as the
   * dashboard does; see {@link uploadInChunks}. `send` replaces fetch (e.g. for upload progress).
   */
  uploadInChunks<F extends UploadFile>(
    files: readonly F[],
    options: ChunkedUploadOptions<F> & { send?: UploadSender },
  ): Promise<UploadOutcome> {
    const send = options.send ?? this.send;
    return uploadInChunks(
      { uploadRequest: (jobId, chunk, isPublic) => this.uploadRequest(jobId, chunk, isPublic), send },
      files,
      options,
    );
  }

  /** `GET /api/jobs/:id/export?format=…`: COCO or JSON (`application/json`) or CSV (`text/csv`). */
  async exportJob(id: string, format: ExportFormat): Promise<ExportFile> {
    const response = await this.request(
      `/api/jobs/${encodeURIComponent(id)}/export?format=${encodeURIComponent(format)}`,
    );
    const disposition = response.headers.get('content-disposition') ?? '';
    const fileName =
      /filename="([^"]+)"/.exec(disposition)?.[1] ?? `tabgrid-${id}.${format === 'csv' ? 'csv' : 'json'}`;
    return {
      fileName,
      contentType: response.headers.get('content-type') ?? '',
      body: await response.blob(),
    };
  }

  /** `DELETE /api/jobs/:id`: cancels unfinished tasks, keeps results, frees the images. Idempotent. */
  deleteJob(id: string): Promise<JobDeleted> {
    return this.json(JobDeletedSchema, `/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /**
   * `POST /api/jobs/:id/cancel`: stops the job's unfinished tasks; the job, its finished results
   * and exports stay (cancel is not delete). Idempotent.
   */
  cancelJob(id: string): Promise<JobCancelled> {
    return this.json(JobCancelledSchema, `/api/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  /** The path of a task's original image (`GET` it with the key: {@link taskImage}). */
  taskImagePath(jobId: string, taskId: string): string {
    return `/api/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(taskId)}/image`;
  }

  /** A task's original image (owner only). */
  async taskImage(jobId: string, taskId: string): Promise<Blob> {
    return (await this.request(this.taskImagePath(jobId, taskId))).blob();
  }

  /**
   * Polls `GET /api/jobs/:id` until the job is finished (every task done or failed) and returns
   * its last view. `onUpdate` sees every view; `signal` stops waiting (code `cancelled`).
   */
  async waitForJob(
    id: string,
    options: { intervalMs?: number; signal?: AbortSignal; onUpdate?: (job: JobView) => void } = {},
  ): Promise<JobView> {
    const interval = options.intervalMs ?? DEFAULT_POLL_MS;
    for (;;) {
      const job = await this.job(id);
      options.onUpdate?.(job);
      if (isFinished(job)) return job;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, interval);
        options.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(new ApiRequestError(0, 'cancelled', 'stopped waiting'));
          },
          { once: true },
        );
      });
    }
  }
}

function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function parseAnswer<S extends z.ZodType>(schema: S, body: unknown, status: number): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw new ApiRequestError(
    status,
    'bad_response',
    `unexpected answer from the server${first ? ` (${first.path.join('.') || 'body'}: ${first.message})` : ''}`,
  );
}
