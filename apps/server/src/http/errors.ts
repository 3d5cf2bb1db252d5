import type { IncomingMessage } from 'node:http';
import { TabgridError, type ApiError, type ErrorCode } from '@tabgrid/protocol';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRedisUnavailable } from '../redis/errors';
import { RejectedUploadError } from './rejected-upload-error';
import { RetryLaterError } from './upload-budget';

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

/** Most of an unread request body that is read and discarded before a refusal is sent. */
export const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
/** Longest wait for that body before the refusal is sent anyway. */
export const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Reads and discards what is left of a request body, up to `maxBytes` or `timeoutMs`, so that the
 * answer sent next can be read by the client (PROTOCOL.md rule H3): a server that answers and
 * closes while the client is still sending makes Node's `fetch` see `EPIPE`, not the answer.
 * Resolves at once for a body already read.
 */
export function drainBody(
  raw: IncomingMessage,
  maxBytes = DRAIN_MAX_BYTES,
  timeoutMs = DRAIN_TIMEOUT_MS,
): Promise<void> {
  if (raw.complete || raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('close', done);
      raw.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, timeoutMs);
    // A multipart parser may still be attached (a refusal half-way through an upload): detach it,
    // so that its back-pressure cannot pause the body while it is discarded.
    raw.unpipe();
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('close', done);
    raw.once('error', done);
    raw.resume();
  });
}

/**
 * Sends an error answer once the request body was read (bounded, see `drainBody`); the connection
 * is closed after it when the body could not be read to its end (the rest would be taken for the
 * next request on a keep-alive connection).
 */
export async function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  body: ApiError,
): Promise<FastifyReply> {
  await drainBody(request.raw);
  if (!request.raw.complete) void reply.header('connection', 'close');
  return reply.status(status).send(body);
}

/**
 * Every error leaves the API as `{"error": {"code", "message"}}` with a 4xx/5xx
 * status. Stack traces and raw exception text stay in the log.
 */
export function installErrorHandler(app: FastifyInstance): void {
  // Refused before its body was read (no key, size limits, bad file name, …): the body is read
  // and discarded first (bounded) so the client can read the answer; see sendError.
  app.setErrorHandler(async (err: FastifyError | TabgridError, request, reply) => {
    if (err instanceof TabgridError) {
      if (err instanceof RetryLaterError) void reply.header('Retry-After', String(err.retryAfterS));
      else if (err.code === 'queue_full' || err.code === 'storage_unavailable')
        void reply.header('Retry-After', '5');
      const body = errorBody(err.code, err.message);
      if (err instanceof RejectedUploadError) body.error.rejected = err.rejected;
      return sendError(request, reply, err.status, body);
    }
    const mapped = err.code ? FRAMEWORK_CODES[err.code] : undefined;
    if (mapped) return sendError(request, reply, mapped[1], errorBody(mapped[0], err.message));
    if (isRedisUnavailable(err)) {
      // Redis away (not connected, a command timed out): the request can be retried.
      request.log.warn({ err }, 'request failed: Redis unavailable');
      void reply.header('Retry-After', '5');
      return sendError(
        request,
        reply,
        503,
        errorBody('storage_unavailable', 'the server cannot reach its store right now; retry in 5 s'),
      );
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(request, reply, err.statusCode, errorBody('bad_request', err.message));
    }
    request.log.error({ err }, 'request failed');
    return sendError(request, reply, 500, errorBody('internal', 'internal error'));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      404,
      errorBody('not_found', `no route for ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`),
    ),
  );
}

/**
 * Fastify's `frameworkErrors`: requests refused before routing (a malformed URL, an unparsable
 * Content-Type) answer the documented body too (rule H2); the security headers are already set
 * (security-headers.ts).
 */
export function frameworkErrorHandler(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const mapped = err.code ? FRAMEWORK_CODES[err.code] : undefined;
  const [code, status] = mapped ?? [
    'bad_request',
    err.statusCode && err.statusCode < 500 ? err.statusCode : 400,
  ];
  const message = err.code === 'FST_ERR_BAD_URL' ? 'the URL is malformed' : err.message.slice(0, 200);
  return sendError(request, reply, status, errorBody(code, message));
}
