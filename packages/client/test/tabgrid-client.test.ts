/**
 * `@tabgrid/client` against a real server (real HTTP, SQLite): every call parses the answer,
 * paging follows `nextCursor`, and each kind of failure becomes the error class the dashboard
 * and the CLI act on (server code and status, `rejected` files, `Retry-After`, no answer).
 */
import { ApiRequestError, RetryLaterError, TabgridClient, UploadRefusedError } from '@tabgrid/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readImage,
  startTestServer,
  TEST_KEYS,
  type TestServer,
} from '../../../apps/server/test/support/harness';
import { freePort } from '../../../apps/server/test/support/processes';

const dog = new File([readImage('dog.jpg')], 'dog.jpg', { type: 'image/jpeg' });
const text = new File(['not a photo\n'.repeat(20)], 'notes.jpg', { type: 'image/jpeg' });

let server: TestServer;
let client: TabgridClient;
beforeAll(async () => {
  server = await startTestServer({ maxFiles: 2, maxQueuedPerKey: 4 });
  client = new TabgridClient({ baseUrl: server.url, apiKey: TEST_KEYS.owner.key });
});
afterAll(async () => server?.close());

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as ApiRequestError;
  }
  throw new Error('expected a failure');
};

describe('TabgridClient', () => {
  it('creates, lists page after page, shows, exports and deletes jobs', async () => {
    expect(await client.me()).toMatchObject({ name: TEST_KEYS.owner.name, limits: { maxFiles: 2 } });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await client.createJob([dog], { isPublic: i === 0 })).id);
    const listed = [];
    for await (const job of client.jobs(1)) listed.push(job.id);
    expect(listed).toEqual([...ids].reverse());
    const view = await client.job(ids[0]!);
    expect(view.tasks.map((t) => t.name)).toEqual(['dog.jpg']);
    const exported = await client.exportJob(ids[0]!, 'csv');
    expect(exported.fileName).toBe(`tabgrid-${ids[0]}.csv`);
    expect(await exported.body.text()).toContain('job_id,task_id,file_name');
    expect((await client.taskImage(ids[0]!, view.tasks[0]!.id)).size).toBe(dog.size);
    expect(await client.deleteJob(ids[0]!)).toMatchObject({ id: ids[0], cancelled: 1 });
    for (const id of ids.slice(1)) await client.deleteJob(id);
  });

  it('sends a selection in chunks of maxFiles as one job, listing bad files', async () => {
    const chunks: number[] = [];
    const outcome = await client.uploadInChunks([dog, text, dog, dog], {
      limits: (await client.me()).limits,
      isPublic: false,
      onStored: (created, _first, chunk) => chunks.push(chunk.length, created.tasks.length),
    });
    expect(outcome).toMatchObject({ stored: 3, cancelled: false, error: null });
    expect(outcome.rejected.map((r) => r.code)).toEqual(['unsupported_format']);
    expect(chunks).toEqual([2, 1, 2, 2]);
    expect((await client.job(outcome.jobId!)).tasks).toHaveLength(3);
    await client.deleteJob(outcome.jobId!);
  });

  it('fails with the server code, the rejected files, Retry-After, or network_error', async () => {
    const notFound = await failure(client.job('job_nope'));
    expect(notFound).toBeInstanceOf(ApiRequestError);
    expect([notFound.status, notFound.code]).toEqual([404, 'not_found']);

    const refused = await failure(client.createJob([text], { partial: true }));
    expect(refused).toBeInstanceOf(UploadRefusedError);
    expect((refused as UploadRefusedError).rejected.map((r) => r.name)).toEqual(['notes.jpg']);

    const held = (await client.createJob([dog, dog])).id;
    await client.appendImages(held, [dog, dog]);
    const full = await failure(client.createJob([dog]));
    expect(full).toBeInstanceOf(RetryLaterError);
    expect([full.status, full.code, (full as RetryLaterError).retryAfterMs]).toEqual([
      429,
      'queue_full',
      5000,
    ]);
    await client.deleteJob(held);

    const badKey = await failure(new TabgridClient({ baseUrl: server.url, apiKey: 'nope-0000000000' }).me());
    expect([badKey.status, badKey.code]).toEqual([401, 'unauthorized']);

    const down = `http://127.0.0.1:${await freePort()}`;
    const offline = await failure(new TabgridClient({ baseUrl: down, apiKey: 'k' }).me());
    expect([offline.status, offline.code]).toEqual([0, 'network_error']);
    expect(offline.message).toBe(`cannot reach ${down}: ECONNREFUSED`);
  });
});
