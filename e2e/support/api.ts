import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, type APIRequestContext } from '@playwright/test';
import { JobCreatedSchema, JobViewSchema, type JobCreated, type JobView } from '@tabgrid/protocol';
import { authHeaders } from './keys';

/** `POST /api/jobs` with one `images` part per file, as the e2e owner (or `key`). */
export async function createJobViaApi(
  request: APIRequestContext,
  files: string[],
  options: { key?: string; public?: boolean } = {},
): Promise<JobCreated> {
  const multipart = new FormData();
  if (options.public) multipart.append('public', 'true');
  for (const file of files) {
    const bytes = await readFile(file);
    const type = /\.png$/i.test(file) ? 'image/png' : /\.webp$/i.test(file) ? 'image/webp' : 'image/jpeg';
    multipart.append('images', new Blob([bytes], { type }), path.basename(file));
  }
  const res = await request.post('/api/jobs', { multipart, headers: authHeaders(options.key) });
  expect(res.status(), await res.text()).toBe(201);
  return JobCreatedSchema.parse(await res.json());
}

export async function getJob(request: APIRequestContext, id: string, key?: string): Promise<JobView> {
  const res = await request.get(`/api/jobs/${id}`, { headers: authHeaders(key) });
  expect(res.status()).toBe(200);
  return JobViewSchema.parse(await res.json());
}

/** Polls `GET /api/jobs/:id` until the job is done or failed (test-side only). */
export async function waitForJob(request: APIRequestContext, id: string, timeout = 75_000): Promise<JobView> {
  await expect
    .poll(async () => (await getJob(request, id)).status, { timeout, intervals: [100, 250, 500] })
    .toMatch(/^(done|failed)$/);
  return getJob(request, id);
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
