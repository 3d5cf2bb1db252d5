import { isErrorCode, isRetryable, type JobCreated, type Me } from '@tabgrid/protocol';
import { ApiRequestError } from '../../lib/api';
import { formatBytes } from '../../lib/format';
import { RetryLaterError, sendUpload, UploadRefusedError } from './uploadRequest';

/** A file that was not stored, and why (a server error code, or one found before sending). */
export interface RejectedItem {
  name: string;
  code: string;
  message: string;
}

export interface UploadOutcome {
  jobId: string | null;
  /** Photos stored. */
  stored: number;
  rejected: RejectedItem[];
  cancelled: boolean;
  /** A request-level failure that stopped the upload (files after it were not sent). */
  error: ApiRequestError | null;
}

/** Image types the detector reads; anything else in a folder is skipped before sending. */
const IMAGE = /\.(jpe?g|png|webp|gif|bmp|avif)$/i;

/**
 * Splits a selection into requests of at most `maxFiles` files. Files the server would refuse
 * anyway (empty, over `maxFileBytes`, not an image such as a folder's `.DS_Store`) are
 * reported here and never sent.
 */
export function planChunks(
  files: readonly File[],
  limits: Me['limits'],
): { chunks: File[][]; skipped: RejectedItem[] } {
  const skipped: RejectedItem[] = [];
  const sendable: File[] = [];
  for (const f of files) {
    if (!f.type.startsWith('image/') && !IMAGE.test(f.name))
      skipped.push({ name: f.name, code: 'unsupported_format', message: 'not an image file' });
    else if (f.size === 0) skipped.push({ name: f.name, code: 'empty_file', message: 'the file is empty' });
    else if (f.size > limits.maxFileBytes)
      skipped.push({
        name: f.name,
        code: 'file_too_large',
        message: `${formatBytes(f.size)}, over the limit of ${formatBytes(limits.maxFileBytes)} per file`,
      });
    else sendable.push(f);
  }
  const chunks: File[][] = [];
  for (let i = 0; i < sendable.length; i += limits.maxFiles)
    chunks.push(sendable.slice(i, i + limits.maxFiles));
  return { chunks, skipped };
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

/**
 * Sends a selection as one job: the first request creates it (`POST /api/jobs?partial=1`), the
 * next add to it (`POST /api/jobs/:id/images?partial=1`). Bad files are listed per file while
 * the good ones are stored. Progress is the fraction of all bytes sent, across chunks. A
 * chunk refused with a retryable code (rate limit, full queue, storage) is sent again after
 * the server's `Retry-After` (up to a minute), at most five times. Cancelling stops at once; chunks already stored stay in the job.
 */
export async function uploadInChunks(
  files: readonly File[],
  options: {
    limits: Me['limits'];
    isPublic: boolean;
    signal: AbortSignal;
    onProgress: (fraction: number) => void;
    /** After each stored chunk; `first` is true for the request that created the job. */
    onStored: (created: JobCreated, first: boolean) => void;
    /** Send the rest of an interrupted upload to this job instead of creating one. */
    jobId?: string;
  },
): Promise<UploadOutcome> {
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
  options.onProgress(0);

  for (const chunk of chunks) {
    const chunkBytes = chunk.reduce((n, f) => n + f.size, 0);
    for (let attempt = 0; ; attempt++) {
      const form = new FormData();
      if (options.isPublic && outcome.jobId === null) form.append('public', 'true');
      for (const f of chunk) form.append('images', f, f.name);
      const url =
        outcome.jobId === null
          ? `/api/jobs?partial=1&expected=${expected}`
          : `/api/jobs/${encodeURIComponent(outcome.jobId)}/images?partial=1`;
      try {
        const created = await sendUpload(url, form, {
          signal: options.signal,
          onProgress: (sent) => options.onProgress((sentBefore + Math.min(sent, chunkBytes)) / total),
        });
        const first = outcome.jobId === null && options.jobId === undefined;
        outcome.jobId = created.id;
        outcome.stored += created.tasks.length;
        outcome.rejected.push(
          ...(created.rejected ?? []).map(({ name, code, message }) => ({ name, code, message })),
        );
        options.onStored(created, first);
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
          break;
        }
        if (isErrorCode(error.code) && isRetryable(error.code) && attempt < RETRIES) {
          const delay = error instanceof RetryLaterError ? error.retryAfterMs : RETRY_DELAY_MS;
          await wait(Math.min(Math.max(delay, 1000), MAX_RETRY_DELAY_MS), options.signal);
          if (options.signal.aborted) {
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
    options.onProgress(sentBefore / total);
  }
  return outcome;
}

/**
 * The files of a selection that a job does not have yet (an interrupted upload, sent again from
 * the same folder): matched by file name, the name the job keeps for each photo.
 */
export function missingFrom(files: readonly File[], namesInJob: Iterable<string>): File[] {
  const have = new Set(namesInJob);
  return files.filter((f) => !have.has(f.name));
}
