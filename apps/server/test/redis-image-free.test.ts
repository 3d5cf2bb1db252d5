/**
 * Freeing a deleted job's images in Redis mode (issue 10), as SQLite mode does: deleting a job
 * through one gateway removes the image bytes no other live job uses, from the blob directory
 * every gateway shares, and keeps the ones another job (uploaded through another gateway) still
 * uses. And the race: an upload of the same bytes stored while a deletion is removing them waits
 * until the removal is over and writes them again, so its task never lacks its image. Real
 * redis-server, two in-process gateways on one blob directory, real sockets.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobDeletedSchema } from '@tabgrid/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deleteJob, freed } from '../src/storage/redis-image-refs';
import { BlobStore } from '../src/storage/blob-store';
import { FakeVolunteer } from './support/fake-volunteer';
import {
  TEST_KEYS,
  bearer,
  readImage,
  sleep,
  startTestServer,
  until,
  type TestServer,
} from './support/harness';
import { startRedis, type TestRedis } from './support/redis';

let redis: TestRedis;
let admin: Redis;
let blobDir: string;
const gateways: TestServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-blobs-'));
  for (let i = 0; i < 2; i++)
    gateways.push(await startTestServer({ redisUrl: redis.url, blobDir, gatewayId: `gw-free-${i + 1}` }));
});
afterAll(async () => {
  for (const g of gateways) await g.close();
  admin.disconnect();
  await redis?.stop();
});
afterEach(() => {
  for (const name of fs.readdirSync(blobDir)) fs.rmSync(path.join(blobDir, name), { recursive: true });
});

const shaOf = (name: string) => BlobStore.sha256(readImage(name));
const blobPath = (name: string) => path.join(blobDir, shaOf(name).slice(0, 2), shaOf(name));

async function remove(g: TestServer, jobId: string, key: string = TEST_KEYS.owner.key) {
  const res = await fetch(`${g.url}/api/jobs/${jobId}`, { method: 'DELETE', headers: bearer(key) });
  expect(res.status).toBe(200);
  return JobDeletedSchema.parse(await res.json());
}

describe('deleting a job in Redis mode', () => {
  it('frees the images no live job on any gateway uses, and keeps the shared one until its last job goes', async () => {
    const [g1, g2] = gateways as [TestServer, TestServer];
    const mine = await g1.createJob(['000004.jpg', '000139.jpg', '000148.jpg']);
    const theirs = await g2.createJob(['000004.jpg'], { key: TEST_KEYS.other.key });
    for (const name of ['000004.jpg', '000139.jpg', '000148.jpg'])
      expect(fs.existsSync(blobPath(name))).toBe(true);

    expect(await remove(g2, mine.id)).toMatchObject({ cancelled: 3, imagesDeleted: 2 });
    expect(fs.existsSync(blobPath('000139.jpg'))).toBe(false);
    expect(fs.existsSync(blobPath('000148.jpg'))).toBe(false);
    expect(fs.existsSync(blobPath('000004.jpg'))).toBe(true);
    // Deleting again frees nothing more.
    expect(await remove(g1, mine.id)).toMatchObject({ cancelled: 0, imagesDeleted: 0 });

    // The other requester's job still runs, on either gateway, with its image intact.
    const v = await FakeVolunteer.connect(g1.url, { id: 'free-runner', behaviour: 'ack-then-silent' });
    try {
      await until(() => v.assigned.length > 0, 10_000, 'the other job offered');
      expect(v.assigned.map((a) => a.jobId)).toEqual([theirs.id]);
      expect(Buffer.from(v.assigned[0]!.image as Uint8Array).equals(readImage('000004.jpg'))).toBe(true);
    } finally {
      v.close();
    }
    // Its last job gone, the shared image goes too.
    expect(await remove(g2, theirs.id, TEST_KEYS.other.key)).toMatchObject({ imagesDeleted: 1 });
    expect(fs.existsSync(blobPath('000004.jpg'))).toBe(false);
  });

  it('an upload of the same bytes during the removal waits for it, then writes them again', async () => {
    const [g1, g2] = gateways as [TestServer, TestServer];
    const old = await g1.createJob(['dog.jpg']);
    // A deletion on "gateway 3" decides to free the image and has not removed the bytes yet.
    const deleting = await deleteJob(admin, old.id, Date.now());
    expect(deleting.freeable).toEqual([shaOf('dog.jpg')]);

    let answered = false;
    const upload = g2.createJob(['dog.jpg']).finally(() => (answered = true));
    await sleep(500);
    expect(answered).toBe(false); // its tasks are stored; it waits for the removal to end
    fs.unlinkSync(blobPath('dog.jpg'));
    await freed(admin, deleting.freeable);
    const job = await upload;

    // The bytes are back, and the new job's task gets its image.
    expect(fs.readFileSync(blobPath('dog.jpg')).equals(readImage('dog.jpg'))).toBe(true);
    const image = await fetch(`${g1.url}/api/jobs/${job.id}/tasks/${job.tasks[0]!.id}/image`, {
      headers: bearer(),
    });
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).equals(readImage('dog.jpg'))).toBe(true);
    // The new job holds the only reference now: deleting it frees the image again.
    expect(await remove(g1, job.id)).toMatchObject({ imagesDeleted: 1 });
  });
});
