/**
 * Per-requester limits and fairness (issue 8): an upload rate limit and a cap on unfinished
 * tasks per key, both `429` + `Retry-After` for that key only; and fair share across
 * requesters before jobs, so one key's flood does not starve another key's single photo.
 */
import { ApiErrorSchema } from '@tabgrid/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { volunteerPool } from './support/fake-volunteer';
import { TEST_KEYS, readImage, startTestServer, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

const photo = (name = 'dog.jpg') => ({ name, bytes: readImage(name) });

async function expect429(res: Response, code: string): Promise<void> {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(ApiErrorSchema.parse(await res.json()).error.code).toBe(code);
}

describe('per-key limits', () => {
  it('rate-limits uploads per key (429 rate_limited + Retry-After); other keys are unaffected', async () => {
    server = await startTestServer({ uploadsPerMinute: 2 });
    expect((await server.upload([photo()])).status).toBe(201);
    expect((await server.upload([photo()])).status).toBe(201);
    await expect429(await server.upload([photo()]), 'rate_limited');
    expect((await server.upload([photo()], { key: TEST_KEYS.other.key })).status).toBe(201);
  });

  it('caps unfinished tasks per key (429 queue_full + Retry-After); other keys are unaffected', async () => {
    server = await startTestServer({ maxQueuedPerKey: 3 });
    expect((await server.upload([photo(), photo('bus.jpg')])).status).toBe(201);
    await expect429(await server.upload([photo(), photo('bus.jpg')]), 'queue_full');
    expect((await server.upload([photo()])).status).toBe(201); // exactly at the cap
    await expect429(await server.upload([photo()]), 'queue_full');
    expect((await server.upload([photo()], { key: TEST_KEYS.other.key })).status).toBe(201);
  });
});

describe('fair share across requesters', () => {
  it('one key floods with many jobs; another key’s single photo is among the next two offered', async () => {
    server = await startTestServer();
    const flood: string[] = [];
    for (let i = 0; i < 10; i++)
      flood.push((await server.createJob(['dog.jpg', 'bus.jpg', 'person.jpg'])).id);
    const single = await server.createJob(['000004.jpg'], { key: TEST_KEYS.other.key });

    // One volunteer, one slot: tasks are offered one or two at a time, in queue order.
    const v = await pool.join('v-fair', { delayMs: 5 });
    await server.waitForJob(single.id, 20_000, TEST_KEYS.other.key);
    const position = v.assigned.findIndex((a) => a.jobId === single.id);
    expect(position).toBeGreaterThanOrEqual(0);
    // Distinct flood tasks offered before it (a re-offer after a lapsed ack on a loaded machine
    // is not a new task). Fair across jobs only, it would come after one of each of the 10 jobs.
    const before = new Set(v.assigned.slice(0, position).map((a) => a.taskId));
    expect(before.size).toBeLessThanOrEqual(1);
    expect(v.assigned.slice(0, position).every((a) => flood.includes(a.jobId))).toBe(true);
    for (const id of flood) await server.waitForJob(id); // no result in flight at close
  });
});
