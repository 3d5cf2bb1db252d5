/**
 * Uploads stream to disk (issue 17, part F; PROTOCOL.md H5): a file is hashed and written chunk by
 * chunk (never whole in memory), one key has at most two uploads in flight and a byte budget per
 * minute, and no temporary file outlives a refusal. Memory figures are measured by
 * `bench/upload-memory.ts` (docs/SECURITY.md), not asserted here.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ApiErrorSchema } from '@tabgrid/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlobWriter } from '../../src/storage/blob-store';
import { TEST_KEYS, bearer, readImage, startTestServer, type TestServer } from '../support/harness';
import { listFiles } from '../support/tmpfs';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const incoming = (s: TestServer) => listFiles(path.join(s.dataDir, 'images', '.incoming'));

describe('uploads stream to disk', () => {
  it('writes each file in chunks as it arrives: no file is ever whole in memory on its way to disk', async () => {
    let largest = 0;
    const writer: BlobWriter = async (handle, bytes) => {
      largest = Math.max(largest, bytes.length);
      await handle.write(bytes);
    };
    server = await startTestServer({}, { blobWriter: writer });
    const png = readImage('street.png'); // 2.7 MB
    const res = await server.upload([
      { name: 'street.png', bytes: png, type: 'image/png' },
      { name: 'dog.jpg', bytes: readImage('dog.jpg') },
    ]);
    expect(res.status).toBe(201);
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(1024 * 1024);
    // The blob is the file, byte for byte; nothing is left in the incoming directory.
    const sha = (await res.json()) as { tasks: { name: string }[] };
    expect(sha.tasks.map((t) => t.name)).toEqual(['street.png', 'dog.jpg']);
    expect(incoming(server)).toEqual([]);
  });

  it('junk is refused with its code, and its temporary files are removed', async () => {
    server = await startTestServer();
    const junk = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await server.upload([
      { name: 'junk-1.jpg', bytes: junk },
      { name: 'junk-2.jpg', bytes: junk },
    ]);
    expect(res.status).toBe(415);
    expect(ApiErrorSchema.parse(await res.json()).error.code).toBe('unsupported_format');
    expect(incoming(server)).toEqual([]);
  });

  it('counts bytes against a per-key budget per minute: 429 with Retry-After, nothing left behind', async () => {
    server = await startTestServer({ uploadBytesPerMinute: 1024 * 1024 });
    const res = await server.upload([
      { name: 'street.png', bytes: readImage('street.png'), type: 'image/png' },
    ]);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(ApiErrorSchema.parse(await res.json()).error.code).toBe('rate_limited');
    expect(incoming(server)).toEqual([]);
    expect(await server.store.counts()).toMatchObject({ queued: 0, running: 0, done: 0 });
    // Another key has its own budget.
    const other = await server.upload([{ name: 'dog.jpg', bytes: readImage('dog.jpg') }], {
      key: TEST_KEYS.other.key,
    });
    expect(other.status).toBe(201);
  });

  it('at most two uploads of one key at once: the third gets a readable 429 with Retry-After', async () => {
    server = await startTestServer();
    const boundary = 'edgesboundary';
    const dog = readImage('dog.jpg');
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="dog.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const { port } = new URL(server.url);
    /** An upload that sends its first bytes and waits for `finish()` to send the rest. */
    const slowUpload = () => {
      const answer = new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/jobs',
            agent: false,
            headers: {
              ...bearer(),
              'content-type': `multipart/form-data; boundary=${boundary}`,
              'content-length': String(head.length + dog.length + tail.length),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.write(head);
        req.write(dog.subarray(0, 1000));
        slow.push(() => req.end(Buffer.concat([dog.subarray(1000), tail])));
      });
      return answer;
    };
    const slow: (() => void)[] = [];
    const first = slowUpload();
    const second = slowUpload();
    await new Promise((r) => setTimeout(r, 300)); // both are being received
    const third = await server.upload([{ name: 'dog.jpg', bytes: dog }]);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(ApiErrorSchema.parse(await third.json()).error.message).toMatch(
      /at most 2 uploads per key at once/,
    );
    for (const finish of slow) finish();
    expect(await first).toBe(201);
    expect(await second).toBe(201);
    // Slots are given back: the key uploads again.
    expect((await server.upload([{ name: 'dog.jpg', bytes: dog }])).status).toBe(201);
    expect(incoming(server)).toEqual([]);
    expect(fs.existsSync(server.dataDir)).toBe(true);
  });
});
