import {
  CocoExportSchema,
  DetectionSchema,
  HealthSchema,
  JobCreatedSchema,
  JobDeletedSchema,
  JobListSchema,
  JobSummarySchema,
  JobViewSchema,
  MeSchema,
  RejectedFileSchema,
  TaskViewSchema,
} from '@tabgrid/protocol';
import { createDocument, type ZodOpenApiObject } from 'zod-openapi';
import { PATHS } from './paths';

export type OpenApiDocument = ReturnType<typeof createDocument>;

const DESCRIPTION = `Volunteer compute in a browser tab: upload photos, volunteers' browsers run object detection on them, fetch or export the results.

Every \`/api\` route needs \`Authorization: Bearer <API key>\` (create one with \`npm run keys -- create <name>\`); each key sees only its own jobs. Errors are \`{"error": {"code", "message"}}\` with the status listed per route; codes are stable, messages are for people.

Clients: the dashboard (\`/dashboard\`), the \`tabgrid\` CLI and \`@tabgrid/client\` (packages/client).`;

/**
 * The schemas shown by name (`#/components/schemas/…`). zod-openapi puts a `$ref` wherever one
 * of these very schema objects is used.
 */
const COMPONENTS = {
  Me: MeSchema,
  JobList: JobListSchema,
  JobSummary: JobSummarySchema,
  JobView: JobViewSchema,
  TaskView: TaskViewSchema,
  Detection: DetectionSchema,
  JobCreated: JobCreatedSchema,
  RejectedFile: RejectedFileSchema,
  JobDeleted: JobDeletedSchema,
  CocoExport: CocoExportSchema,
  Health: HealthSchema,
};

let cached: OpenApiDocument | null = null;

/**
 * zod-openapi renders a named schema nested in another one twice, for requests (`X`) and for
 * responses (`XOutput`, with `additionalProperties: false`), even when no request uses it. These
 * schemas are only ever answers: keep the response rendering under the plain name.
 */
function keepOutputNames(document: OpenApiDocument): OpenApiDocument {
  const schemas = document.components?.schemas ?? {};
  let text = JSON.stringify(document);
  for (const name of Object.keys(schemas)) {
    const base = name.replace(/Output$/, '');
    if (base === name || !(base in schemas) || text.includes(`"#/components/schemas/${base}"`)) continue;
    delete schemas[base];
    text = JSON.stringify(document).replaceAll(
      `"#/components/schemas/${name}"`,
      `"#/components/schemas/${base}"`,
    );
    const renamed = JSON.parse(text) as OpenApiDocument;
    renamed.components!.schemas![base] = renamed.components!.schemas![name]!;
    delete renamed.components!.schemas![name];
    return keepOutputNames(renamed);
  }
  return document;
}

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the protocol's zod schemas with
 * zod-openapi (never written by hand), built once per process. Served at `GET /api/openapi.json`.
 */
export function openApiDocument(): OpenApiDocument {
  cached ??= keepOutputNames(
    createDocument({
      openapi: '3.1.0',
      info: {
        title: 'Tabgrid API',
        version: '0.1.0',
        description: DESCRIPTION,
      },
      tags: [
        { name: 'requester', description: 'The key and its limits' },
        { name: 'jobs', description: 'Upload photos, follow, export and delete jobs' },
        { name: 'documentation', description: 'This document' },
        { name: 'live', description: 'What the live wall links to' },
        { name: 'operations', description: 'For operators and load balancers' },
      ],
      security: [{ bearer: [] }],
      paths: PATHS,
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key: `TABGRID_API_KEYS` or `npm run keys -- create <name>`',
          },
        },
        schemas: COMPONENTS,
      },
    } satisfies ZodOpenApiObject),
  );
  return cached;
}
