/**
 * The requester API behind the dashboard (issue 9), on real HTTP with a real database and real
 * Socket.IO volunteers: `?partial=1` uploads, adding photos to an open job (and who may),
 * and the COCO / CSV / JSON exports, checked against their formats.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ApiErrorSchema,
  CocoExportSchema,
  JobCreatedSchema,
  JobViewSchema,
  type Detection,
} from '@tabgrid/protocol';
import { parse } from 'csv-parse/sync';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { volunteerPool } from './support/fake-volunteer';
import { bearer, MODEL_DIR, readImage, startTestServer, TEST_KEYS, type TestServer } from './support/harness';

/** The official COCO 2017 detection category ids (cocodataset.org): 1..90 without these ten. */
const NEVER_USED = [12, 26, 29, 30, 45, 66, 68, 69, 71, 83];
const OFFICIAL_IDS = Array.from({ length: 90 }, (_, i) => i + 1).filter((id) => !NEVER_USED.includes(id));

const MAX_FILES = 3;
const MAX_FILE_BYTES = 300 * 1024; // dog.jpg (160 KB) fits, bus.jpg (476 KB) does not
const dog = readImage('dog.jpg');
const person = readImage('person.jpg');
const bus = readImage('bus.jpg');
const notAPhoto = Buffer.from('this is not a photo\n'.repeat(50));

/** What the fake volunteers answer: a dog and a person, so that exports have two categories. */
const DETECTIONS = (w: number, h: number): Detection[] => [
  { label: 'dog', score: 0.91, box: [10.5, 20.25, Math.min(w, 110.5), Math.min(h, 70.25)] },
  { label: 'person', score: 0.42, box: [0, 0, Math.min(w, 30), Math.min(h, 60)] },
];

let server: TestServer;
const pool = volunteerPool(() => server.url);

beforeAll(async () => {
  server = await startTestServer({ maxFiles: MAX_FILES, maxFileBytes: MAX_FILE_BYTES });
});
afterEach(() => pool.closeAll());
afterAll(async () => server?.close());

function imageCount(): number {
  const dir = path.join(server.dataDir, 'images');
  return fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length
    : 0;
}

async function post(
  url: string,
  files: { name: string; bytes: Uint8Array }[],
  key: string = TEST_KEYS.owner.key,
) {
  const form = new FormData();
  for (const f of files)
    form.append('images', new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), f.name);
  return fetch(`${server.url}${url}`, { method: 'POST', body: form, headers: bearer(key) });
}

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(ApiErrorSchema.parse(JSON.parse(text)).error.code).toBe(code);
}

describe('POST /api/jobs?partial=1', () => {
  it('stores the good files and lists the bad ones with their codes', async () => {
    const before = imageCount();
    const res = await post('/api/jobs?partial=1', [
      { name: 'dog.jpg', bytes: dog },
      { name: 'notes.jpg', bytes: notAPhoto },
      { name: 'bus.jpg', bytes: bus },
    ]);
    expect(res.status).toBe(201);
    const created = JobCreatedSchema.parse(await res.json());
    expect(created.tasks.map((t) => t.name)).toEqual(['dog.jpg']);
    expect(created.rejected?.map((r) => [r.index, r.name, r.code])).toEqual([
      [1, 'notes.jpg', 'unsupported_format'],
      [2, 'bus.jpg', 'file_too_large'],
    ]);
    expect(imageCount()).toBe(before + 1);
    const job = await server.getJob(created.id);
    expect(job.tasks.map((t) => t.name)).toEqual(['dog.jpg']);
  });

  it('is all-or-nothing without it: the same batch is refused and nothing is stored', async () => {
    const before = imageCount();
    const res = await post('/api/jobs', [
      { name: 'person.jpg', bytes: person },
      { name: 'notes.jpg', bytes: notAPhoto },
    ]);
    await expectError(res, 415, 'unsupported_format');
    expect(imageCount()).toBe(before);
  });

  it('fails with the first file’s code when every file is bad, and stores nothing', async () => {
    const before = imageCount();
    const res = await post('/api/jobs?partial=1', [
      { name: 'notes.jpg', bytes: notAPhoto },
      { name: 'empty.jpg', bytes: Buffer.alloc(0) },
    ]);
    const body = ApiErrorSchema.parse(await res.clone().json());
    expect(body.error.rejected?.map((r) => [r.index, r.code])).toEqual([
      [0, 'unsupported_format'],
      [1, 'empty_file'],
    ]);
    await expectError(res, 415, 'unsupported_format');
    expect(imageCount()).toBe(before);
  });

  it('refuses an unknown partial value with bad_request', async () => {
    await expectError(
      await post('/api/jobs?partial=maybe', [{ name: 'dog.jpg', bytes: dog }]),
      400,
      'bad_request',
    );
  });
});

describe('POST /api/jobs/:id/images', () => {
  it('grows a job past maxFiles in chunks, numbered after its last task', async () => {
    const first = await server.createJob(['dog.jpg', 'person.jpg', 'dog.jpg']);
    const chunk = await post(`/api/jobs/${first.id}/images?partial=1`, [
      { name: 'person-2.jpg', bytes: person },
      { name: 'broken.jpg', bytes: notAPhoto },
      { name: 'dog-2.jpg', bytes: dog },
    ]);
    expect(chunk.status).toBe(200);
    const added = JobCreatedSchema.parse(await chunk.json());
    expect(added.id).toBe(first.id);
    expect(added.tasks.map((t) => t.name)).toEqual(['person-2.jpg', 'dog-2.jpg']);
    expect(added.rejected?.map((r) => r.code)).toEqual(['unsupported_format']);
    const job = await server.getJob(first.id);
    expect(job.tasks.map((t) => t.name)).toEqual([
      'dog.jpg',
      'person.jpg',
      'dog.jpg',
      'person-2.jpg',
      'dog-2.jpg',
    ]);
    expect(job.status).toBe('queued');

    await pool.join('v-append', { detections: (t) => DETECTIONS(t.width, t.height) });
    const done = await server.waitForJob(first.id);
    expect(done.tasks.every((t) => t.status === 'done')).toBe(true);
  });

  it('keeps the same limits: more than maxFiles in one request is refused and nothing is added', async () => {
    const { id } = await server.createJob(['dog.jpg']);
    const files = Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ name: `d${i}.jpg`, bytes: dog }));
    await expectError(await post(`/api/jobs/${id}/images`, files), 413, 'too_many_files');
    expect((await server.getJob(id)).tasks).toHaveLength(1);
  });

  it('answers 404 to another key, to an unknown id and to a malformed id; 409 once deleted', async () => {
    const { id } = await server.createJob(['dog.jpg']);
    const one = [{ name: 'dog.jpg', bytes: dog }];
    await expectError(await post(`/api/jobs/${id}/images`, one, TEST_KEYS.other.key), 404, 'not_found');
    await expectError(await post('/api/jobs/job_doesnotexist/images', one), 404, 'not_found');
    await expectError(await post('/api/jobs/..%2F..%2Fetc/images', one), 404, 'not_found');
    expect((await server.getJob(id)).tasks).toHaveLength(1);
    expect(
      (await fetch(`${server.url}/api/jobs/${id}`, { method: 'DELETE', headers: bearer() })).status,
    ).toBe(200);
    await expectError(await post(`/api/jobs/${id}/images`, one), 409, 'bad_request');
  });
});

describe('GET /api/jobs/:id/export', () => {
  let jobId: string;
  beforeAll(async () => {
    // A name with a comma, a quote and a formula prefix, to test CSV quoting.
    const res = await server.upload([
      { name: 'dog.jpg', bytes: dog },
      { name: 'a "quoted", name.jpg', bytes: person },
      { name: '=cmd.jpg', bytes: dog },
    ]);
    jobId = JobCreatedSchema.parse(await res.json()).id;
    await pool.join('v-export', { detections: (t) => DETECTIONS(t.width, t.height) });
    await server.waitForJob(jobId);
  });

  const get = (format: string, key: string = TEST_KEYS.owner.key, id = jobId) =>
    fetch(`${server.url}/api/jobs/${id}/export?format=${format}`, { headers: bearer(key) });

  it('format=coco is COCO detection JSON: unique ids, valid references, xywh boxes, the 80 official ids', async () => {
    const res = await get('coco');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="tabgrid-job_[\w-]+-coco\.json"$/,
    );
    const coco = CocoExportSchema.parse(await res.json());
    const job = await server.getJob(jobId);

    expect(coco.categories.map((c) => c.id)).toEqual(OFFICIAL_IDS);
    const labels = fs.readFileSync(path.join(MODEL_DIR, 'coco-labels.txt'), 'utf8').trim().split(/\r?\n/);
    expect(coco.categories.map((c) => c.name)).toEqual(labels);

    const unique = (ids: number[]) => new Set(ids).size === ids.length;
    expect(unique(coco.images.map((i) => i.id))).toBe(true);
    expect(unique(coco.annotations.map((a) => a.id))).toBe(true);
    expect(coco.images.map((i) => [i.file_name, i.width, i.height])).toEqual(
      job.tasks.map((t) => [t.name, t.width, t.height]),
    );
    const imageIds = new Set(coco.images.map((i) => i.id));
    const categoryIds = new Set(coco.categories.map((c) => c.id));
    expect(coco.annotations).toHaveLength(job.tasks.length * 2);
    for (const a of coco.annotations) {
      expect(imageIds.has(a.image_id)).toBe(true);
      expect(categoryIds.has(a.category_id)).toBe(true);
      const task = job.tasks[a.image_id - 1]!;
      const d = task.detections.find((x) => Math.abs(x.score - a.score) < 1e-4)!;
      const [x1, y1, x2, y2] = d.box;
      expect(a.bbox).toEqual([x1, y1, x2 - x1, y2 - y1].map((n) => Math.round(n * 100) / 100));
      expect(a.area).toBeCloseTo(a.bbox[2] * a.bbox[3], 1);
      expect(a.category_id).toBe(d.label === 'dog' ? 18 : 1);
    }
  });

  it('format=csv has a header row and parses back to the same detections', async () => {
    const res = await get('csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await res.text();
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(text.split('\r\n')[0]).toBe(
      'job_id,task_id,file_name,image_width,image_height,status,label,category_id,score,x1,y1,x2,y2',
    );
    const job = await server.getJob(jobId);
    const expected = job.tasks.flatMap((t) =>
      t.detections.map((d) => ({
        task_id: t.id,
        file_name: t.name.startsWith('=') ? `'${t.name}` : t.name,
        label: d.label,
        score: d.score,
        box: d.box,
      })),
    );
    expect(
      rows.map((r) => ({
        task_id: r.task_id,
        file_name: r.file_name,
        label: r.label,
        score: Number(r.score),
        box: [r.x1, r.y1, r.x2, r.y2].map(Number),
      })),
    ).toEqual(expected);
    expect(rows.some((r) => (r.file_name ?? '').includes(','))).toBe(true);
    expect(rows.every((r) => r.job_id === jobId)).toBe(true);
  });

  it('lists every photo of an unfinished job: CSV rows with empty detection columns, COCO images without annotations', async () => {
    pool.closeAll(); // nobody online: the new job stays queued
    const { id } = await server.createJob(['dog.jpg', 'person.jpg']);
    const csv = parse(await (await get('csv', TEST_KEYS.owner.key, id)).text(), { columns: true }) as Record<
      string,
      string
    >[];
    expect(csv.map((r) => [r.file_name, r.status, r.label, r.score])).toEqual([
      ['dog.jpg', 'queued', '', ''],
      ['person.jpg', 'queued', '', ''],
    ]);
    const coco = CocoExportSchema.parse(await (await get('coco', TEST_KEYS.owner.key, id)).json());
    expect(coco.images).toHaveLength(2);
    expect(coco.annotations).toEqual([]);
    await fetch(`${server.url}/api/jobs/${id}`, { method: 'DELETE', headers: bearer() });
  });

  it('format=json is the GET /api/jobs/:id view', async () => {
    const res = await get('json');
    expect(res.status).toBe(200);
    expect(JobViewSchema.parse(await res.json())).toEqual(await server.getJob(jobId));
  });

  it('refuses another key (404) and an unknown format (400)', async () => {
    await expectError(await get('coco', TEST_KEYS.other.key), 404, 'not_found');
    await expectError(await get('xml'), 400, 'bad_request');
    await expectError(
      await fetch(`${server.url}/api/jobs/${jobId}/export`, { headers: bearer() }),
      400,
      'bad_request',
    );
    await expectError(await get('coco', TEST_KEYS.owner.key, 'job_nope'), 404, 'not_found');
  });
});
