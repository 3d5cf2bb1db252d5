/**
 * Every error code that crosses a process boundary: Socket.IO acks, handshake
 * rejections and HTTP error bodies (`{"error": {"code", "message"}}`).
 * Nothing else may be sent as a `code`.
 */
export const ERROR_CODES = [
  // handshake / generic protocol
  'protocol_version',
  'invalid_payload',
  'payload_too_large',
  'unknown_event',
  'rate_limited',
  'shutting_down',
  'internal',
  // volunteer identity (PROTOCOL.md rules I1-I6)
  'identity_rejected',
  'too_many_volunteers',
  // task protocol
  'not_holder',
  'lease_expired',
  'task_completed',
  'impossible_result',
  'ack_timeout',
  'volunteer_left',
  'attempts_exhausted',
  'deadline_exceeded',
  // failures a volunteer reports about a task
  'undecodable',
  'inference_failed',
  'model_mismatch',
  // HTTP API
  'not_found',
  'bad_request',
  'no_images',
  'empty_file',
  'unsupported_format',
  'corrupt_image',
  'image_too_large',
  'file_too_large',
  'too_many_files',
  'invalid_file_name',
  'queue_full',
  // the server's own dependencies (database, disk): retry later, nothing accepted was lost
  'storage_unavailable',
  'insufficient_storage',
  // access (docs/SECURITY.md)
  'unauthorized',
  'forbidden_origin',
  'cancelled',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes a volunteer may report in `task:error` (a subset of ErrorCode). */
export const TASK_FAILURE_CODES = ['undecodable', 'inference_failed', 'model_mismatch'] as const;
export type TaskFailureCode = (typeof TASK_FAILURE_CODES)[number];

/**
 * Codes that mean "the server could not do it now, do the same again later":
 * the request changed nothing. `storage_unavailable` on `task:result` leaves
 * the lease in place (PROTOCOL.md T11).
 */
export const RETRYABLE_CODES = ['storage_unavailable', 'rate_limited', 'queue_full'] as const;

export function isRetryable(code: ErrorCode): boolean {
  return (RETRYABLE_CODES as readonly string[]).includes(code);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * A typed error with a wire code. Throw it anywhere on the server; the HTTP and
 * socket boundaries turn it into `{ code, message }` and never leak stacks.
 *
 * @example throw new TabgridError('not_found', `job ${id} does not exist`, 404)
 */
export class TabgridError extends Error {
  override readonly name = 'TabgridError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** HTTP status when this error reaches the HTTP API. */
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * The `{code, message}` a server middleware attached to a Socket.IO handshake rejection
 * (`connect_error`'s `err.data`), if any.
 */
export function connectErrorData(err: Error): { code: string; message: string } | null {
  const data = (err as Error & { data?: unknown }).data;
  if (data && typeof data === 'object' && 'code' in data && typeof data.code === 'string') {
    const message = 'message' in data && typeof data.message === 'string' ? data.message : err.message;
    return { code: data.code, message };
  }
  return null;
}
