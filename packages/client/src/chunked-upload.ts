import { isErrorCode, isRetryable, type JobCreated, type Me, type RejectedFile } from '@tabgrid/protocol';
import { ApiRequestError, RetryLaterError, UploadRefusedError } from './errors';
import { planChunks, type PlannedFile, type RejectedItem } from './upload-plan';

/** A file to upload: a browser `File`, or a `File` over a file on disk (`fs.openAsBlob`). */
export type UploadFile = Blob & PlannedFile;

/** One multipart request of a chunked upload, ready to send. */
export interface UploadRequest {
  /** Absolute (or, in the browser, same-origin relative) URL, query included. */
  url: string;
  headers: Record<string, string>;
  form: FormData;
}

/**
 * Sends one upload request and resolves with the stored tasks; rejects with an ApiRequestError
 * (an `UploadRefusedError` when every file was bad, a `RetryLaterError` with `Retry-After`, code
 * `cancelled` once `signal` aborts). The client's default uses fetch; the dashboard's uses
 * XMLHttpRequest for upload progress.
 */
export type UploadSender = (
  request: UploadRequest,
  options: { signal: AbortSignal; onProgress: (sentBytes: number) => void },
) => Promise<JobCreated>;

export interface UploadOutcome {
  jobId: string | null;
  /** Photos stored. */
  stored: number;
  rejected: RejectedItem[];
  cancelled: boolean;
  /** A request-level failure that stopped the upload (files after it were not sent). */
  error: ApiRequestError | null;
}

export interface ChunkedUploadOptions<F extends UploadFile> {
  limits: Me['limits'];
  isPublic: boolean;
  signal?: AbortSignal;
  /** Add to this job instead of creating one (a resumed upload). */
  jobId?: string | null;
  /** Fraction of all bytes sent, across chunks (byte-accurate with a sender that reports progress). */
  onProgress?: (fraction: number) => void;
  /** After each stored chunk; `first` is true for the request that created the job. */
  onStored?: (created: JobCreated, first: boolean, chunk: readonly F[]) => void;
  /** A chunk of which every file was refused (nothing stored; the next chunk goes on). `index` is the file's in `chunk`. */
  onRefused?: (chunk: readonly F[], rejected: RejectedFile[]) => void;
  /** Pause before retrying a refused chunk (tests shorten it). @defaultValue the server's `Retry-After`, else 5 s */
  retryDelayMs?: (attempt: number, error: ApiRequestError) => number;
}

/** The requests a chunked upload makes: how to build one (the client implements it). */
export interface UploadTarget {
  uploadRequest(
    jobId: string | null,
    files: readonly UploadFile[],
    isPublic: boolean,
    partial?: boolean,
    expected?: number,
  ): UploadRequest;
  send: UploadSender;
}

const RETRIES = 5;
/** Pause before sending a refused chunk again, when the server gave no `Retry-After`. */
const RETRY_DELAY_MS = 5000;
/** Longest pause honoured (the upload rate limit's window is a minute). */
const MAX_RETRY_DELAY_MS = 60_000;

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

const defaultDelay = (_attempt: number, error: ApiRequestError) =>
  Math.min(
    Math.max(error instanceof RetryLaterError ? error.retryAfterMs : RETRY_DELAY_MS, 1000),
    MAX_RETRY_DELAY_MS,
  );

/**
 * Sends a selection as one job: the first request creates it (`POST /api/jobs?partial=1`), the
 * next add to it (`POST /api/jobs/:id/images?partial=1`); with `jobId` every request adds to that
 * job. Bad files are listed per file while the good ones are stored. A chunk refused with a
 * retryable code (rate limit, full queue, storage) is sent again after the server's `Retry-After`
 * (up to a minute), at most five times. Cancelling stops at once; chunks already stored stay in
 * the job.
 */
export async function uploadInChunks<F extends UploadFile>(
  target: UploadTarget,
  files: readonly F[],
  options: ChunkedUploadOptions<F>,
): Promise<UploadOutcome> {
  const signal = options.signal ?? new AbortController().signal;
  const onProgress = options.onProgress ?? (() => {});
  const delay = options.retryDelayMs ?? defaultDelay;
  const { chunks, skipped } = planChunks(files, options.limits);
  // The job records how many photos were meant to arrive, so an upload that stops early shows.
  const expected = chunks.reduce((n, c) => n + c.length, 0);
  const outcome: UploadOutcome = {
    jobId: options.jobId ?? null,
    stored: 0,
    rejected: [...skipped],
    cancelled: false,
    error: null,
  };
  const total = chunks.flat().reduce((n, f) => n + f.size, 0) || 1;
  let sentBefore = 0;
  onProgress(0);

  for (const chunk of chunks) {
    const chunkBytes = chunk.reduce((n, f) => n + f.size, 0);
    for (let attempt = 0; ; attempt++) {
      const first = outcome.jobId === null;
      const request = target.uploadRequest(outcome.jobId, chunk, options.isPublic, true, expected);
      try {
        const created = await target.send(request, {
          signal,
          onProgress: (sent) => onProgress((sentBefore + Math.min(sent, chunkBytes)) / total),
        });
        outcome.jobId = created.id;
        outcome.stored += created.tasks.length;
        outcome.rejected.push(
          ...(created.rejected ?? []).map(({ name, code, message }) => ({ name, code, message })),
        );
        options.onStored?.(created, first, chunk);
        break;
      } catch (err) {
        const error = err instanceof ApiRequestError ? err : new ApiRequestError(0, 'internal', String(err));
        if (error.code === 'cancelled') {
          outcome.cancelled = true;
          return outcome;
        }
        // Every file of this chunk was bad: listed, and the next chunk goes on.
        if (error instanceof UploadRefusedError) {
          outcome.rejected.push(
            ...error.rejected.map(({ name, code, message }) => ({ name, code, message })),
          );
          options.onRefused?.(chunk, error.rejected);
          break;
        }
        if (isErrorCode(error.code) && isRetryable(error.code) && attempt < RETRIES) {
          await wait(delay(attempt, error), signal);
          if (signal.aborted) {
            outcome.cancelled = true;
            return outcome;
          }
          continue;
        }
        outcome.error = error;
        return outcome;
      }
    }
    sentBefore += chunkBytes;
    onProgress(sentBefore / total);
  }
  return outcome;
}
