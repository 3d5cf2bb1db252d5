import { ApiErrorSchema, type RejectedFile } from '@tabgrid/protocol';

/**
 * A request that did not succeed: the server's `{error: {code, message}}` when it sent one, else
 * `network_error` (no answer), `http_error` (an answer that is not ours, e.g. a proxy's page) or
 * `bad_response` (a 2xx whose body does not match the protocol). `status` is 0 without an answer.
 */
export class ApiRequestError extends Error {
  override readonly name: string = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A `?partial=1` upload in which every file was bad (nothing stored): each file's code. */
export class UploadRefusedError extends ApiRequestError {
  override readonly name: string = 'UploadRefusedError';
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
  override readonly name: string = 'RetryLaterError';
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
 * The error of a non-2xx answer, from its status, its parsed body (null when it was not JSON) and
 * its `Retry-After` header. Shared by the fetch path and the dashboard's XMLHttpRequest uploads.
 */
export function errorFromAnswer(
  status: number,
  statusText: string,
  body: unknown,
  retryAfter: string | null,
): ApiRequestError {
  const parsed = ApiErrorSchema.safeParse(body);
  if (!parsed.success)
    return new ApiRequestError(status, 'http_error', `HTTP ${status} ${statusText}`.trim());
  const { code, message, rejected } = parsed.data.error;
  if (rejected) return new UploadRefusedError(status, code, message, rejected);
  const retryAfterS = Number(retryAfter);
  if (retryAfterS > 0) return new RetryLaterError(status, code, message, retryAfterS * 1000);
  return new ApiRequestError(status, code, message);
}

/** `code: message`, the one-line form the dashboard and the CLI show. */
export const describeError = (err: unknown): string =>
  err instanceof ApiRequestError
    ? `${err.code}: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);
