/**
 * The OpenAPI document (issue 19): `GET /api/openapi.json` is public and valid OpenAPI 3.1, it
 * describes every `/api` route the server registers, and every real answer of those routes
 * (success and error, status, content type, body) matches what the document says, checked with
 * ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect). Real server, real HTTP, real volunteers'
 * results (scripted detections), real SQLite.
 */
import { validate } from '@readme/openapi-parser';
import type { Detection } from '@tabgrid/protocol';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { undocumentedRoutes } from '../src/http/docs-routes';
import type { OpenApiDocument } from '../src/http/openapi/document';
import { volunteerPool } from './support/fake-volunteer';
import { bearer, readImage, startTestServer, TEST_KEYS, type TestServer } from './support/harness';

type Method = 'get' | 'post' | 'delete';
type Body = NonNullable<RequestInit['body']>;
interface MediaObject {
  schema?: object;
}
interface ResponseObject {
  content?: Record<string, MediaObject>;
}

const MAX_FILES = 2;
const MAX_FILE_BYTES = 300 * 1024; // dog.jpg (160 KB) fits, bus.jpg (476 KB) does not
const dog = readImage('dog.jpg');
const person = readImage('person.jpg');
const bus = readImage('bus.jpg');
const text = Buffer.from('not a photo\n'.repeat(20));
const corrupt = Buffer.concat([dog.subarray(0, 2000), Buffer.alloc(4000)]);

const DETECTIONS = (w: number, h: number): Detection[] => [
  { label: 'dog', score: 0.91, box: [10.5, 20.25, Math.min(w, 110.5), Math.min(h, 70.25)] },
  { label: 'person', score: 0.42, box: [0, 0, Math.min(w, 30), Math.min(h, 60)] },
];

let server: TestServer;
/** Uploads refused for space: every upload answers 507, and /healthz 503. */
let full: TestServer;
/** A queue of one task and 3 uploads a minute: 429 `queue_full`, then `rate_limited`. */
let tight: TestServer;
let doc: OpenApiDocument;
const pool = volunteerPool(() => server.url);
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('binary', true);
const validators = new Map<string, ValidateFunction>();
/** `METHOD /path/{template} STATUS` of every answer checked. */
const seen = new Set<string>();

beforeAll(async () => {
  [server, full, tight] = await Promise.all([
    startTestServer({ maxFiles: MAX_FILES, maxFileBytes: MAX_FILE_BYTES }),
    startTestServer({ minFreeBytes: Number.MAX_SAFE_INTEGER }),
    startTestServer({ maxQueued: 1, uploadsPerMinute: 3 }),
  ]);
  const res = await fetch(`${server.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDocument;
});
afterAll(async () => {
  await pool.closeAll();
  await Promise.all([server?.close(), full?.close(), tight?.close()]);
});

/**
 * Checks a real answer against the document: the operation exists, documents this status and
 * this content type, and (JSON) the body matches the schema. Returns the body.
 */
async function check(method: Method, template: string, res: Response): Promise<unknown> {
  const what = `${method.toUpperCase()} ${template} ${res.status}`;
  const operation = (
    doc.paths?.[template] as Record<string, { responses: Record<string, ResponseObject> }>
  )?.[method];
  expect(operation, `${method.toUpperCase()} ${template} is not in the document`).toBeDefined();
  const response = operation!.responses[String(res.status)];
  const raw = Buffer.from(await res.arrayBuffer());
  expect(response, `${what} is not documented; body: ${raw.toString('utf8').slice(0, 300)}`).toBeDefined();
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = response!.content?.[type];
  expect(media, `${what}: content type ${type} is not documented`).toBeDefined();
  seen.add(what);
  if (type !== 'application/json') return raw;
  const body: unknown = JSON.parse(raw.toString('utf8'));
  const key = `${what} ${type}`;
  let validator = validators.get(key);
  if (!validator) {
    validator = ajv.compile({ ...media!.schema, components: doc.components });
    validators.set(key, validator);
  }
  expect(
    validator(body),
    `${what}: ${ajv.errorsText(validator.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
  ).toBe(true);
  return body;
}

const get = (url: string, headers: Record<string, string> = bearer(), base = server.url) =>
  fetch(`${base}${url}`, { headers });

function form(
  files: { name: string; bytes: Uint8Array; field?: string }[],
  fields: Record<string, string> = {},
) {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const file of files)
    f.append(file.field ?? 'images', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.name);
  return f;
}

const post = (
  url: string,
  body: Body,
  headers: Record<string, string> = bearer(),
  base = server.url,
): Promise<Response> => fetch(`${base}${url}`, { method: 'POST', body, headers });

describe('the document', () => {
  it('is public, valid OpenAPI 3.1, with the bearer scheme', async () => {
    const res = await fetch(`${server.url}/api/openapi.json`); // no key
    const body = (await check('get', '/api/openapi.json', res)) as OpenApiDocument;
    expect(body.openapi).toMatch(/^3\.1\./);
    const result = await validate(structuredClone(body) as never);
    expect(result.valid, result.valid ? '' : JSON.stringify(result.errors)).toBe(true);
    expect(body.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(body.security).toEqual([{ bearer: [] }]);
  });

  it('describes every /api route the server registers (and nothing else under /api)', () => {
    const routes = server.app.apiRoutes;
    expect(routes.length).toBeGreaterThan(5);
    expect(undocumentedRoutes(routes, doc)).toEqual([]);
    const registered = new Set(
      routes.map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = Object.entries(doc.paths ?? {})
      .filter(([p]) => p.startsWith('/api/'))
      .flatMap(([p, item]) => Object.keys(item as object).map((m) => `${m} ${p}`));
    expect(documented.filter((d) => !registered.has(d))).toEqual([]);
  });

  it('serves the interactive reference without a key', async () => {
    const res = await fetch(`${server.url}/api/docs`, { redirect: 'manual' });
    expect([200, 302]).toContain(res.status);
  });
});

describe('every answer matches the document', () => {
  let jobId: string;
  let taskId: string;

  it('GET /api/me', async () => {
    await check('get', '/api/me', await get('/api/me'));
    await check('get', '/api/me', await get('/api/me', {}));
    await check('get', '/api/me', await get('/api/me', bearer('not-a-key-at-all-000000')));
    await check('get', '/api/me', await get('/api/me', { ...bearer(), origin: 'https://evil.example' }));
    expect(seen).toContain('GET /api/me 403');
  });

  it('POST /api/jobs: created, partial, and each refusal', async () => {
    const created = (await check(
      'post',
      '/api/jobs',
      await post('/api/jobs', form([{ name: 'dog.jpg', bytes: dog }], { public: 'true' })),
    )) as { id: string; tasks: { id: string }[] };
    jobId = created.id;
    taskId = created.tasks[0]!.id;
    await check(
      'post',
      '/api/jobs',
      await post(
        '/api/jobs?partial=1',
        form([
          { name: 'person.jpg', bytes: person },
          { name: 'x.jpg', bytes: text },
        ]),
      ),
    );
    const refusals: [Body, string, number, Record<string, string>?][] = [
      [
        form([
          { name: 'a.jpg', bytes: dog },
          { name: 'b.jpg', bytes: dog },
          { name: 'c.jpg', bytes: dog },
        ]),
        '',
        413,
      ],
      [form([{ name: 'bus.jpg', bytes: bus }]), '', 413],
      [form([{ name: 'notes.jpg', bytes: text }]), '', 415],
      [form([{ name: 'broken.jpg', bytes: corrupt }]), '', 400],
      [
        form([
          { name: 'broken.jpg', bytes: corrupt },
          { name: 'n.jpg', bytes: text },
        ]),
        '?partial=1',
        400,
      ],
      [form([{ name: 'dog.jpg', bytes: dog, field: 'photo' }]), '', 400],
      [form([], { public: 'true' }), '', 400],
      [form([{ name: 'dog.jpg', bytes: dog }]), '?partial=maybe', 400],
      [JSON.stringify({ images: [] }), '', 415, { 'content-type': 'application/json' }],
    ];
    for (const [body, query, status, headers] of refusals) {
      const res = await post(`/api/jobs${query}`, body, { ...bearer(), ...headers });
      expect(res.status).toBe(status);
      await check('post', '/api/jobs', res);
    }
    await check('post', '/api/jobs', await post('/api/jobs', form([{ name: 'dog.jpg', bytes: dog }]), {}));
    // Out of disk space: 507 before anything is stored.
    await check(
      'post',
      '/api/jobs',
      await post('/api/jobs', form([{ name: 'dog.jpg', bytes: dog }]), bearer(), full.url),
    );
    // A queue of one: full (429 queue_full), then the upload rate limit (429 rate_limited).
    const small = await sharp(dog).resize(64).jpeg().toBuffer();
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await post('/api/jobs', form([{ name: `s${i}.jpg`, bytes: small }]), bearer(), tight.url);
      const body = (await check('post', '/api/jobs', res)) as { error?: { code: string } };
      codes.push(body.error?.code ?? String(res.status));
    }
    expect(codes).toEqual(['201', 'queue_full', 'queue_full', 'rate_limited']);
    for (const status of [201, 400, 401, 413, 415, 429, 507])
      expect(seen).toContain(`POST /api/jobs ${status}`);
  });

  it('POST /api/jobs/{id}/images', async () => {
    const path = '/api/jobs/{id}/images';
    await check(
      'post',
      path,
      await post(`/api/jobs/${jobId}/images`, form([{ name: 'person.jpg', bytes: person }])),
    );
    await check(
      'post',
      path,
      await post(`/api/jobs/job_nope/images`, form([{ name: 'person.jpg', bytes: person }])),
    );
    await check(
      'post',
      path,
      await post(`/api/jobs/${jobId}/images`, form([{ name: 'bus.jpg', bytes: bus }])),
    );
    await check(
      'post',
      path,
      await post(`/api/jobs/${jobId}/images`, form([{ name: 'p.jpg', bytes: person }]), {}),
    );
    const doomed = (await (await post('/api/jobs', form([{ name: 'dog.jpg', bytes: dog }]))).json()) as {
      id: string;
    };
    await fetch(`${server.url}/api/jobs/${doomed.id}`, { method: 'DELETE', headers: bearer() });
    await check(
      'post',
      path,
      await post(`/api/jobs/${doomed.id}/images`, form([{ name: 'dog.jpg', bytes: dog }])),
    );
    for (const status of [200, 401, 404, 409, 413]) expect(seen).toContain(`POST ${path} ${status}`);
  });

  it('GET /api/jobs/{id} and its export, with detections', async () => {
    await pool.join('v-openapi', { detections: (t) => DETECTIONS(t.width, t.height) });
    const job = await server.waitForJob(jobId);
    expect(job.tasks.some((t) => t.detections.length > 0)).toBe(true);
    await check('get', '/api/jobs/{id}', await get(`/api/jobs/${jobId}`));
    await check('get', '/api/jobs/{id}', await get(`/api/jobs/job_nope`));
    await check('get', '/api/jobs/{id}', await get(`/api/jobs/${jobId}`, bearer(TEST_KEYS.other.key)));
    const path = '/api/jobs/{id}/export';
    for (const format of ['coco', 'csv', 'json']) {
      const res = await get(`/api/jobs/${jobId}/export?format=${format}`);
      expect(res.status).toBe(200);
      await check('get', path, res);
    }
    await check('get', path, await get(`/api/jobs/${jobId}/export?format=xml`));
    await check('get', path, await get(`/api/jobs/${jobId}/export`));
    await check('get', path, await get(`/api/jobs/job_nope/export?format=coco`));
    await check('get', path, await get(`/api/jobs/${jobId}/export?format=coco`, {}));
    for (const status of [200, 400, 401, 404]) expect(seen).toContain(`GET ${path} ${status}`);
  });

  it('GET /api/jobs/{id}/tasks/{taskId}/image', async () => {
    const path = '/api/jobs/{id}/tasks/{taskId}/image';
    const res = await get(`/api/jobs/${jobId}/tasks/${taskId}/image`);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    await check('get', path, res);
    await check('get', path, await get(`/api/jobs/${jobId}/tasks/task_nope/image`));
    await check('get', path, await get(`/api/jobs/${jobId}/tasks/${taskId}/image`, {}));
  });

  it('GET /api/jobs: pages and a bad limit or cursor', async () => {
    const first = (await check('get', '/api/jobs', await get('/api/jobs?limit=1'))) as { nextCursor: string };
    expect(first.nextCursor).toEqual(expect.any(String));
    await check(
      'get',
      '/api/jobs',
      await get(`/api/jobs?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`),
    );
    await check('get', '/api/jobs', await get('/api/jobs?limit=0'));
    await check('get', '/api/jobs', await get('/api/jobs?cursor=made-up'));
    await check('get', '/api/jobs', await get('/api/jobs', {}));
    for (const status of [200, 400, 401]) expect(seen).toContain(`GET /api/jobs ${status}`);
  });

  it('POST /api/jobs/{id}/cancel', async () => {
    const path = '/api/jobs/{id}/cancel';
    const cancel = (id: string, headers: Record<string, string> = bearer()) =>
      fetch(`${server.url}/api/jobs/${id}/cancel`, { method: 'POST', headers });
    await check('post', path, await cancel(jobId, {}));
    await check('post', path, await cancel(jobId));
    await check('post', path, await cancel(jobId));
    await check('post', path, await cancel('job_nope'));
    for (const status of [200, 401, 404]) expect(seen).toContain(`POST ${path} ${status}`);
  });

  it('DELETE /api/jobs/{id}', async () => {
    await check(
      'delete',
      '/api/jobs/{id}',
      await fetch(`${server.url}/api/jobs/${jobId}`, { method: 'DELETE' }),
    );
    await check(
      'delete',
      '/api/jobs/{id}',
      await fetch(`${server.url}/api/jobs/${jobId}`, { method: 'DELETE', headers: bearer() }),
    );
    await check(
      'delete',
      '/api/jobs/{id}',
      await fetch(`${server.url}/api/jobs/${jobId}`, { method: 'DELETE', headers: bearer() }),
    );
    await check(
      'delete',
      '/api/jobs/{id}',
      await fetch(`${server.url}/api/jobs/job_nope`, { method: 'DELETE', headers: bearer() }),
    );
    for (const status of [200, 401, 404]) expect(seen).toContain(`DELETE /api/jobs/{id} ${status}`);
    // A deleted job has nothing left to cancel.
    await check(
      'post',
      '/api/jobs/{id}/cancel',
      await fetch(`${server.url}/api/jobs/${jobId}/cancel`, { method: 'POST', headers: bearer() }),
    );
    expect(seen).toContain('POST /api/jobs/{id}/cancel 409');
  });

  it('the public routes: /healthz and /img/{token}', async () => {
    await check('get', '/healthz', await get('/healthz', {}));
    await check('get', '/healthz', await get('/healthz', {}, full.url));
    await check('get', '/img/{token}', await get('/img/not-a-token', {}));
    for (const status of [200, 503]) expect(seen).toContain(`GET /healthz ${status}`);
  });

  it('every /api operation was seen answering a success and an error', () => {
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!path.startsWith('/api/') || path === '/api/openapi.json') continue;
      for (const method of Object.keys(item as object)) {
        const statuses = [...seen].filter((s) => s.startsWith(`${method.toUpperCase()} ${path} `));
        expect(
          statuses.some((s) => / 2\d\d$/.test(s)),
          `${method} ${path}: ${statuses}`,
        ).toBe(true);
        expect(
          statuses.some((s) => / [45]\d\d$/.test(s)),
          `${method} ${path}: ${statuses}`,
        ).toBe(true);
      }
    }
  });
});
