import {
  CocoExportSchema,
  ExportQuerySchema,
  HealthSchema,
  JobCreatedSchema,
  JobCancelledSchema,
  JobDeletedSchema,
  JobListSchema,
  JobViewSchema,
  MeSchema,
  UploadQuerySchema,
} from '@tabgrid/protocol';
import { z } from 'zod';
import type { ZodOpenApiPathsObject, ZodOpenApiRequestBodyObject } from 'zod-openapi';
import { MAX_PAGE } from '../../access/job-access';
import { COMMON_ERRORS, errors, UPLOAD_ERRORS } from './responses';

const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
const jobId = z.object({
  id: z.string().regex(idPattern).meta({ description: 'The job id (`POST /api/jobs` answers it)' }),
});
const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });
const PUBLIC = { security: [] };

/**
 * The multipart body of an upload: what `http/upload-reader.ts` reads (it is not parsed by zod:
 * the files are streamed and validated with sharp).
 */
const uploadBody = (withPublic: boolean): ZodOpenApiRequestBodyObject => ({
  required: true,
  description:
    'One part per photo, each named `images` (JPEG, PNG or WebP; at most `limits.maxFiles` parts of `limits.maxFileBytes` each, see `GET /api/me`). File names are labels: no path separators.',
  content: {
    'multipart/form-data': {
      schema: z.object({
        images: z
          .array(z.string().meta({ format: 'binary', contentMediaType: 'application/octet-stream' }))
          .min(1)
          .meta({ description: 'The photos' }),
        ...(withPublic
          ? {
              public: z
                .string()
                .optional()
                .meta({
                  description:
                    '`true`, `1`, `on` or `yes`: the job’s results are shown on the public live wall (`/live`)',
                  examples: ['true'],
                }),
              callbackUrl: z
                .string()
                .max(2048)
                .optional()
                .meta({
                  description:
                    'An absolute `http:`/`https:` URL that gets one signed Standard Webhooks event (`job.completed` or `job.failed`) when the job ends (PROTOCOL.md W1–W10). Private, loopback and link-local targets are refused unless the server allows them.',
                  examples: ['https://example.com/tabgrid-hook'],
                }),
            }
          : {}),
      }),
      encoding: { images: { contentType: 'image/jpeg, image/png, image/webp' } },
    },
  },
});

const PARTIAL =
  'All or nothing by default: one bad file refuses the request (its code and status). With `?partial=1` the good files are stored and the bad ones listed in `rejected`; if every file is bad, the request fails with the first file’s code and lists each file in `error.rejected`.';

const IMAGE_CONTENT = {
  'image/jpeg': { schema: z.string().meta({ format: 'binary' }) },
  'image/png': { schema: z.string().meta({ format: 'binary' }) },
  'image/webp': { schema: z.string().meta({ format: 'binary' }) },
};

/**
 * Every route of the requester API (`/api/*`) plus the public `/healthz` and `/img/{token}`, with
 * the protocol's zod schemas (packages/protocol/src/schemas.ts) for parameters and bodies.
 * `test/openapi.test.ts` checks that every registered `/api` route is here and that the real
 * answers match.
 */
export const PATHS: ZodOpenApiPathsObject = {
  '/api/me': {
    get: {
      operationId: 'getMe',
      tags: ['requester'],
      summary: 'Who the key belongs to, and the upload limits',
      responses: {
        200: { description: 'The key’s requester', content: json(MeSchema) },
        ...errors(COMMON_ERRORS),
      },
    },
  },
  '/api/jobs': {
    get: {
      operationId: 'listJobs',
      tags: ['jobs'],
      summary: 'The caller’s jobs, newest first, a page at a time',
      requestParams: {
        query: z.object({
          limit: z
            .string()
            .regex(/^\d+$/)
            .optional()
            .meta({ description: `Jobs per page, 1 to ${MAX_PAGE}`, default: '20', examples: ['20'] }),
          cursor: z.string().optional().meta({ description: 'The `nextCursor` of the previous page' }),
        }),
      },
      responses: {
        200: { description: 'One page; `nextCursor` is null on the last', content: json(JobListSchema) },
        ...errors({ ...COMMON_ERRORS, 400: ['bad_request'] }),
      },
    },
    post: {
      operationId: 'createJob',
      tags: ['jobs'],
      summary: 'Upload photos as a new job',
      description: `Every file is read and validated (decoded in full) before anything is stored; the bytes are on disk (fsync) before the answer. ${PARTIAL}`,
      requestParams: { query: UploadQuerySchema },
      requestBody: uploadBody(true),
      responses: {
        201: { description: 'The job and its tasks, in upload order', content: json(JobCreatedSchema) },
        ...errors(UPLOAD_ERRORS),
      },
    },
  },
  '/api/jobs/{id}': {
    get: {
      operationId: 'getJob',
      tags: ['jobs'],
      summary: 'A job with every task’s status, timings and detections',
      requestParams: { path: jobId },
      responses: {
        200: { description: 'The job', content: json(JobViewSchema) },
        ...errors({ ...COMMON_ERRORS, 404: ['not_found'] }),
      },
    },
    delete: {
      operationId: 'deleteJob',
      tags: ['jobs'],
      summary: 'Delete a job: its unfinished tasks stop and its images no other job uses are freed',
      description: 'Idempotent: deleting again answers the same `deletedAt`.',
      requestParams: { path: jobId },
      responses: {
        200: { description: 'What the deletion did', content: json(JobDeletedSchema) },
        ...errors({ ...COMMON_ERRORS, 404: ['not_found'] }),
      },
    },
  },
  '/api/jobs/{id}/cancel': {
    post: {
      operationId: 'cancelJob',
      tags: ['jobs'],
      summary: 'Stop a job’s unfinished tasks; the job, its results and exports stay',
      description:
        'Cancel is not delete: finished results stay viewable and exportable, and the job’s view carries `cancelledAt`. Idempotent: a repeat cancels nothing new and answers the first `cancelledAt`. A deleted job answers 409.',
      requestParams: { path: jobId },
      responses: {
        200: { description: 'What the cancel did', content: json(JobCancelledSchema) },
        ...errors({ ...COMMON_ERRORS, 404: ['not_found'], 409: ['bad_request'] }),
      },
    },
  },
  '/api/jobs/{id}/images': {
    post: {
      operationId: 'appendImages',
      tags: ['jobs'],
      summary: 'Add photos to one of the caller’s jobs',
      description: `A folder larger than \`limits.maxFiles\` is sent as one job in several requests: the first creates it, the next add to it. Same validation, limits and errors as \`POST /api/jobs\`. ${PARTIAL}`,
      requestParams: { path: jobId, query: UploadQuerySchema },
      requestBody: uploadBody(false),
      responses: {
        200: { description: 'The tasks just added, in upload order', content: json(JobCreatedSchema) },
        ...errors({ ...UPLOAD_ERRORS, 404: ['not_found'], 409: ['bad_request'] }),
      },
    },
  },
  '/api/jobs/{id}/export': {
    get: {
      operationId: 'exportJob',
      tags: ['jobs'],
      summary: 'The job’s results as a download (COCO, CSV or JSON)',
      description:
        '`coco`: COCO detection JSON (`bbox` = `[x, y, width, height]` in pixels, official category ids). `csv`: one row per detection (RFC 4180, CRLF), one empty row for a task without any. `json`: the job as `GET /api/jobs/{id}` answers it. Sent with `Content-Disposition: attachment`.',
      requestParams: { path: jobId, query: ExportQuerySchema },
      responses: {
        200: {
          description: 'The export',
          headers: z.object({
            'content-disposition': z
              .string()
              .meta({ examples: ['attachment; filename="tabgrid-job_x-coco.json"'] }),
          }),
          content: {
            'application/json': { schema: z.union([CocoExportSchema, JobViewSchema]) },
            'text/csv': {
              schema: z.string().meta({
                description:
                  'Columns: job_id, task_id, file_name, image_width, image_height, status, label, category_id, score, x1, y1, x2, y2',
              }),
            },
          },
        },
        ...errors({ ...COMMON_ERRORS, 400: ['bad_request'], 404: ['not_found'] }),
      },
    },
  },
  '/api/jobs/{id}/tasks/{taskId}/image': {
    get: {
      operationId: 'getTaskImage',
      tags: ['jobs'],
      summary: 'A task’s original image (owner only)',
      requestParams: {
        path: jobId.extend({
          taskId: z.string().regex(idPattern).meta({ description: 'A task id of the job' }),
        }),
      },
      responses: {
        200: { description: 'The bytes as uploaded (`ETag`: their SHA-256)', content: IMAGE_CONTENT },
        ...errors({ ...COMMON_ERRORS, 404: ['not_found'] }),
      },
    },
  },
  '/api/openapi.json': {
    get: {
      operationId: 'getOpenApi',
      tags: ['documentation'],
      summary: 'This document (public). An interactive reference is at `/api/docs`',
      ...PUBLIC,
      responses: {
        200: {
          description: 'OpenAPI 3.1',
          content: json(z.object({ openapi: z.string() }).catchall(z.unknown())),
        },
      },
    },
  },
  '/img/{token}': {
    get: {
      operationId: 'getSealedImage',
      tags: ['live'],
      summary: 'An image by a sealed URL that expires (handed out on `/live`; public)',
      ...PUBLIC,
      requestParams: { path: z.object({ token: z.string() }) },
      responses: {
        200: { description: 'The image', content: IMAGE_CONTENT },
        404: {
          description: 'Invalid or expired token, or the job was deleted. Codes: `not_found`.',
          content: json(z.object({ error: z.object({ code: z.literal('not_found'), message: z.string() }) })),
        },
      },
    },
  },
  '/healthz': {
    get: {
      operationId: 'getHealth',
      tags: ['operations'],
      summary: 'Liveness and dependencies (public)',
      ...PUBLIC,
      responses: {
        200: { description: 'Every dependency answers', content: json(HealthSchema) },
        503: { description: 'A dependency fails (named in `failing`)', content: json(HealthSchema) },
      },
    },
  },
};
