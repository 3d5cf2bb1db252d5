import { TabgridError, type ApiError, type ErrorCode } from '@tabgrid/protocol';
import type { FastifyError, FastifyInstance } from 'fastify';
import { isRedisUnavailable } from '../redis/errors';
import { RejectedUploadError } from './rejected-upload-error';

/** Errors that Fastify and @fastify/multipart raise, mapped to our codes. */
const FRAMEWORK_CODES: Record<string, [ErrorCode, number]> = {
  FST_REQ_FILE_TOO_LARGE: ['file_too_large', 413],
  FST_FILES_LIMIT: ['too_many_files', 413],
  FST_PARTS_LIMIT: ['too_many_files', 413],
  FST_FIELDS_LIMIT: ['bad_request', 413],
  FST_INVALID_MULTIPART_CONTENT_TYPE: ['bad_request', 415],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['bad_request', 415],
  FST_ERR_CTP_BODY_TOO_LARGE: ['file_too_large', 413],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['bad_request', 400],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['bad_request', 400],
};

export function errorBody(code: ErrorCode, message: string): ApiError {
  return { error: { code, message } };
}

/**
 * Every error leaves the API as `{"error": {"code", "message"}}` with a 4xx/5xx
 * status. Stack traces and raw exception text stay in the log.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | TabgridError, request, reply) => {
    // Refused before its body was read (size limits, bad file name, …): the rest of the body
    // would be taken for the next request on this keep-alive connection, so close it.
    if (!request.raw.complete) void reply.header('connection', 'close');
    if (err instanceof TabgridError) {
      if (err.code === 'queue_full' || err.code === 'storage_unavailable')
        void reply.header('Retry-After', '5');
      const body = errorBody(err.code, err.message);
      if (err instanceof RejectedUploadError) body.error.rejected = err.rejected;
      return reply.status(err.status).send(body);
    }
    const mapped = err.code ? FRAMEWORK_CODES[err.code] : undefined;
    if (mapped) return reply.status(mapped[1]).send(errorBody(mapped[0], err.message));
    if (isRedisUnavailable(err)) {
      // Redis away (not connected, a command timed out): the request can be retried.
      request.log.warn({ err }, 'request failed: Redis unavailable');
      void reply.header('Retry-After', '5');
      return reply
        .status(503)
        .send(errorBody('storage_unavailable', 'the server cannot reach its store right now; retry in 5 s'));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(errorBody('bad_request', err.message));
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(errorBody('internal', 'internal error'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(errorBody('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}
