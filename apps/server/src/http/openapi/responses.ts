import { RejectedFileSchema, type ErrorCode } from '@tabgrid/protocol';
import { z } from 'zod';
import type { ZodOpenApiResponsesObject } from 'zod-openapi';

/** What each status means, shown before the codes it carries. */
const MEANING: Record<number, string> = {
  400: 'Bad request',
  401: 'No key, or a key the server does not know (`WWW-Authenticate: Bearer`)',
  403: "The request's `Origin` is not this server's (nor in `TABGRID_ALLOWED_ORIGINS`)",
  404: 'No such job, or not one of the caller’s (ids cannot be probed)',
  409: 'The job was deleted: upload to a new job',
  413: 'Too large: a file, the number of files, or an image’s pixels',
  415: 'Not multipart/form-data, or a file that is not JPEG, PNG or WebP',
  429: 'Too much for now: the queue (`Retry-After: 5`) or the upload rate limit (at most `TABGRID_UPLOADS_PER_MINUTE` per key)',
  500: 'A fault of the server (logged); nothing to fix in the request',
  503: 'The server cannot serve this now (`Retry-After: 5`): its store is unreachable, or it is shutting down. Nothing was stored',
  507: 'The server is out of disk space; nothing was stored',
};

/**
 * The error body `{"error": {"code", "message"}}` with the codes one status can carry. On the
 * upload routes a `?partial=1` upload whose every file was bad also lists each file (`rejected`).
 */
export const errorBody = (codes: readonly ErrorCode[]) =>
  z.object({
    error: z.object({
      code: z
        .enum(codes as [ErrorCode, ...ErrorCode[]])
        .meta({ description: 'Machine-readable and stable (PROTOCOL.md, error codes)' }),
      message: z.string().meta({ description: 'For people; may change' }),
      rejected: z
        .array(RejectedFileSchema)
        .optional()
        .meta({ description: 'A `?partial=1` upload whose every file was bad: each file with its own code' }),
    }),
  });

/** Error responses keyed by status, each listing its possible codes. */
export function errors(byStatus: Partial<Record<number, readonly ErrorCode[]>>): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, codes] of Object.entries(byStatus)) {
    if (!codes) continue;
    out[status as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: `${MEANING[Number(status)] ?? 'Error'}. Codes: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
      content: { 'application/json': { schema: errorBody(codes) } },
    };
  }
  return out;
}

/** The answers every `/api` route may give besides its own: key, origin, store, fault. */
export const COMMON_ERRORS = {
  401: ['unauthorized'],
  403: ['forbidden_origin'],
  /** An address that sent too many invalid keys (PROTOCOL.md H4), with `Retry-After`. */
  429: ['rate_limited'],
  500: ['internal'],
  503: ['storage_unavailable'],
} as const satisfies Partial<Record<number, readonly ErrorCode[]>>;

/** The refusals of an upload (`POST /api/jobs`, `POST /api/jobs/{id}/images`). */
export const UPLOAD_ERRORS = {
  ...COMMON_ERRORS,
  400: ['bad_request', 'no_images', 'empty_file', 'corrupt_image', 'invalid_file_name'],
  413: ['file_too_large', 'too_many_files', 'image_too_large', 'bad_request'],
  415: ['bad_request', 'unsupported_format'],
  429: ['queue_full', 'rate_limited'],
  503: ['storage_unavailable', 'shutting_down'],
  507: ['insufficient_storage'],
} as const satisfies Partial<Record<number, readonly ErrorCode[]>>;
