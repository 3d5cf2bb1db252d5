import { ApiErrorSchema, JobCreatedSchema, type JobCreated, type RejectedFile } from '@tabgrid/protocol';
import { ApiRequestError } from '../../lib/api';
import { authHeaders } from '../../lib/apiKey';

/** A `?partial=1` upload in which every file was bad (nothing stored): each file's code. */
export class UploadRefusedError extends ApiRequestError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly rejected: RejectedFile[],
  ) {
    super(status, code, message);
  }
}

/** Refused for now (`Retry-After` given): the same request may succeed later. */
export class RetryLaterError extends ApiRequestError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(status, code, message);
  }
}

/**
 * One multipart upload (`POST /api/jobs` or `POST /api/jobs/:id/images`, `?partial=1`) with
 * upload progress. XMLHttpRequest because fetch reports no upload progress; the key goes in
 * `Authorization: Bearer` as for every other call. Aborting `signal` aborts the request
 * (rejects with an ApiRequestError of code `cancelled`).
 */
export function sendUpload(
  url: string,
  form: FormData,
  options: { signal: AbortSignal; onProgress: (sentBytes: number) => void },
): Promise<JobCreated> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (ev) => options.onProgress(ev.loaded);
    const onAbort = () => xhr.abort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => options.signal.removeEventListener('abort', onAbort);
    xhr.onabort = () => {
      done();
      reject(new ApiRequestError(0, 'cancelled', 'upload cancelled'));
    };
    xhr.onerror = () => {
      done();
      reject(new ApiRequestError(0, 'network_error', 'cannot reach the server'));
    };
    xhr.onload = () => {
      done();
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const parsed = JobCreatedSchema.safeParse(body);
        if (parsed.success) resolve(parsed.data);
        else reject(new ApiRequestError(xhr.status, 'http_error', 'unexpected answer from the server'));
        return;
      }
      const error = ApiErrorSchema.safeParse(body);
      if (!error.success) {
        reject(new ApiRequestError(xhr.status, 'http_error', `HTTP ${xhr.status} ${xhr.statusText}`));
        return;
      }
      const { code, message, rejected } = error.data.error;
      const retryAfterS = Number(xhr.getResponseHeader('retry-after'));
      reject(
        rejected
          ? new UploadRefusedError(xhr.status, code, message, rejected)
          : retryAfterS > 0
            ? new RetryLaterError(xhr.status, code, message, retryAfterS * 1000)
            : new ApiRequestError(xhr.status, code, message),
      );
    };
    if (options.signal.aborted) xhr.abort();
    else xhr.send(form);
  });
}
