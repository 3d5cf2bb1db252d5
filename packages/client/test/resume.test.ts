/**
 * Resuming an upload against a real server (PROTOCOL.md H7): a local file is skipped only when the
 * job holds a photo of its name with its bytes (the view's `digest`), so a different file under a
 * name the job has is sent. The dashboard and the CLI use this same rule (`@tabgrid/client`).
 */
import { createHash } from 'node:crypto';
import { isSamePhoto, missingFromJob } from '@tabgrid/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImage, startTestServer, type TestServer } from '../../../apps/server/test/support/harness';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const sha256 = async (f: File) =>
  createHash('sha256')
    .update(Buffer.from(await f.arrayBuffer()))
    .digest('hex');

describe('missingFromJob (by name and bytes)', () => {
  it('sends a different file under a name the job has, and skips the same one', async () => {
    const res = await server.upload([{ name: 'a.jpg', bytes: readImage('dog.jpg') }]);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const job = await server.getJob(id);
    expect(job.tasks[0]!.digest).toBe(
      createHash('sha256').update(readImage('dog.jpg')).digest('hex').slice(0, 16),
    );

    const same = new File([readImage('dog.jpg')], 'a.jpg');
    const other = new File([readImage('bus.jpg')], 'a.jpg'); // another photo, the same name
    const fresh = new File([readImage('person.jpg')], 'b.jpg');
    expect(await missingFromJob([same, fresh], job.tasks, sha256)).toEqual([fresh]);
    expect(await missingFromJob([other, fresh], job.tasks, sha256)).toEqual([other, fresh]);
  });

  it('hashes only files whose name the job has; names alone decide without digests (older servers)', async () => {
    let hashed = 0;
    const counting = async (f: File) => {
      hashed++;
      return sha256(f);
    };
    const tasks = [{ name: 'a.jpg', digest: '0123456789abcdef' }];
    await missingFromJob([new File(['x'], 'b.jpg'), new File(['y'], 'c.jpg')], tasks, counting);
    expect(hashed).toBe(0);
    expect(await missingFromJob([new File(['x'], 'a.jpg')], [{ name: 'a.jpg' }], counting)).toEqual([]);
    expect(hashed).toBe(0);
    expect(isSamePhoto({ name: 'a.jpg' }, 'b.jpg', () => '')).toBe(false);
  });
});
