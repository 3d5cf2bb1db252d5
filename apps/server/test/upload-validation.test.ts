/**
 * Fault injection, bad uploads (item 6): every bad request is a 4xx with
 * `{"error": {"code", "message"}}`, and nothing is stored — no rows, no image
 * files — not even the good files of a mixed request. A valid job still works
 * afterwards.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { ApiErrorSchema } from '@tabgrid/protocol';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeVolunteer } from './support/fake-volunteer';
import { bearer, readImage, startTestServer, type TestServer } from './support/harness';

/** Small limits so that the size checks can be hit with the sample photos. */
const MAX_FILE_BYTES = 200 * 1024; // dog.jpg (160 KB) fits, bus.jpg (476 KB) does not
const MAX_FILES = 4;

// ------------------------------------------------------------ crafted files

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
/** A well-formed PNG header declaring `width`x`height` RGB pixels, with a tiny IDAT (a decompression bomb's shape). */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const dog = readImage('dog.jpg'); // 163 KB
const bus = readImage('bus.jpg'); // 487 KB: over MAX_FILE_BYTES
const truncatedJpeg = dog.subarray(0, dog.length >> 1);
/** A PNG under MAX_FILE_BYTES, made from a sample photo. */
const smallPng = await sharp(readImage('street.png')).resize(320).png().toBuffer();
const truncatedPng = smallPng.subarray(0, smallPng.length >> 1);
/** JPEG magic bytes, then garbage where the quantisation/Huffman tables and frame header should be. */
const corruptJpegHeader = Buffer.from(dog).fill(0x5a, 2, 600);
/** A whole-length JPEG whose entropy-coded data is damaged all over. */
const corruptJpegData = Buffer.from(dog);
for (let i = 5000; i < corruptJpegData.length - 2; i += 97) corruptJpegData[i] = 0;

// ------------------------------------------------------------ harness

let server: TestServer;
const volunteers: FakeVolunteer[] = [];
const rejected: Record<string, number> = {};

function imageFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

async function stored(s: TestServer) {
  const counts = await s.store.counts();
  return {
    tasks: counts.queued + counts.running + counts.done + counts.failed,
    files: imageFiles(path.join(s.dataDir, 'images')).length,
  };
}

/** Asserts the response is `status` with an error body of `code`, and that nothing new was stored. */
async function expectRejected(
  res: Response,
  status: number,
  code: string,
  before: { tasks: number; files: number },
): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = ApiErrorSchema.parse(JSON.parse(text));
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.message).not.toMatch(/\n\s+at /); // no stack trace
  expect(await stored(server)).toEqual(before);
  rejected[code] = (rejected[code] ?? 0) + 1;
}

/** Raw HTTP request that sends the headers and `sent` bytes of a body that claims to be `declared` bytes long. */
function partialUpload(
  url: string,
  headers: Record<string, string>,
  sent: Buffer,
): Promise<{ status: number; body: string; requestFinished: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/api/jobs`, { method: 'POST', headers: { ...headers, ...bearer() } });
    let finished = false;
    req.on('finish', () => (finished = true));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, requestFinished: finished });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.write(sent);
    // Never end the request: the answer must come while the body is still "in flight".
  });
}

function multipartPrefix(boundary: string, filename: string): Buffer {
  return Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="${filename}"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n',
  );
}

beforeAll(async () => {
  server = await startTestServer({ maxFileBytes: MAX_FILE_BYTES, maxFiles: MAX_FILES });
});

afterEach(() => {
  for (const v of volunteers.splice(0)) v.close();
});

afterAll(async () => {
  await server?.close();
  console.log(`[upload-validation] rejected bad uploads by code: ${JSON.stringify(rejected)}`);
});

describe('bad uploads are refused with a typed 4xx and store nothing', () => {
  /** What the tests below store on purpose (a partial upload's good photo); nothing else may stay. */
  let keptOnPurpose = { tasks: 0, files: 0 };
  const cases: [string, () => { name: string; bytes: Uint8Array }[], number, string][] = [
    ['an empty file', () => [{ name: 'empty.jpg', bytes: Buffer.alloc(0) }], 400, 'empty_file'],
    [
      'a text file renamed .jpg',
      () => [{ name: 'notes.jpg', bytes: Buffer.from('this is not a photo\n'.repeat(50)) }],
      415,
      'unsupported_format',
    ],
    ['a truncated JPEG', () => [{ name: 'half.jpg', bytes: truncatedJpeg }], 400, 'corrupt_image'],
    ['a truncated PNG', () => [{ name: 'half.png', bytes: truncatedPng }], 400, 'corrupt_image'],
    [
      'a JPEG with a corrupt header',
      () => [{ name: 'bad-header.jpg', bytes: corruptJpegHeader }],
      400,
      'corrupt_image',
    ],
    [
      'a JPEG with corrupt entropy-coded data',
      () => [{ name: 'bad-data.jpg', bytes: corruptJpegData }],
      400,
      'corrupt_image',
    ],
    [
      'a decompression bomb (PNG declaring 60000x60000)',
      () => [{ name: 'bomb.png', bytes: pngBomb(60_000, 60_000) }],
      413,
      'image_too_large',
    ],
    ['a file over maxFileBytes', () => [{ name: 'bus.jpg', bytes: bus }], 413, 'file_too_large'],
    [
      'more files than maxFiles',
      () => Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ name: `dog-${i}.jpg`, bytes: dog })),
      413,
      'too_many_files',
    ],
    [
      'a file name with a path separator',
      () => [{ name: '../../etc/dog.jpg', bytes: dog }],
      400,
      'invalid_file_name',
    ],
    [
      'a file name with a backslash',
      () => [{ name: '..\\..\\dog.jpg', bytes: dog }],
      400,
      'invalid_file_name',
    ],
    [
      'good files mixed with one bad file (all-or-nothing)',
      () => [
        { name: 'good-1.jpg', bytes: dog },
        { name: 'good-2.png', bytes: smallPng },
        { name: 'bad.jpg', bytes: truncatedJpeg },
      ],
      400,
      'corrupt_image',
    ],
  ];

  it.each(cases)('%s', async (_what, files, status, code) => {
    const before = await stored(server);
    await expectRejected(await server.upload(files()), status, code, before);
  });

  it('says what is wrong in plain words and human units, after the file name (PROTOCOL.md H6)', async () => {
    const huge = await server.upload([{ name: 'huge-60mp.png', bytes: pngBomb(7746, 7746) }]);
    expect(huge.status).toBe(413);
    expect(ApiErrorSchema.parse(await huge.json()).error.message).toBe(
      'huge-60mp.png: the photo is 60 megapixels (7746 × 7746); the limit is 50',
    );
    const big = await server.upload([{ name: 'bus.jpg', bytes: bus }]);
    expect(ApiErrorSchema.parse(await big.json()).error.message).toBe(
      'bus.jpg: the file is over the limit of 200 KiB',
    );
    // In a partial upload's list the file is named beside the reason: the reason alone. Its good
    // photo (bytes of its own, shared with no later upload) is stored on purpose.
    const good = await sharp(dog).resize(50, 40).jpeg().toBuffer();
    const res = await fetch(`${server.url}/api/jobs?partial=1`, {
      method: 'POST',
      headers: bearer(),
      body: (() => {
        const form = new FormData();
        form.append('images', new Blob([good], { type: 'image/jpeg' }), 'dog.jpg');
        form.append('images', new Blob([pngBomb(7746, 7746)], { type: 'image/png' }), 'huge-60mp.png');
        return form;
      })(),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { rejected: { name: string; message: string }[] };
    expect(created.rejected).toEqual([
      expect.objectContaining({
        name: 'huge-60mp.png',
        message: 'the photo is 60 megapixels (7746 × 7746); the limit is 50',
      }),
    ]);
    keptOnPurpose = await stored(server);
    expect(keptOnPurpose).toEqual({ tasks: 1, files: 1 });
  });

  it('a GIF (unsupported format)', async () => {
    const gif = await sharp(dog).resize(64, 64).gif().toBuffer();
    const before = await stored(server);
    await expectRejected(
      await server.upload([{ name: 'dog.gif', bytes: gif, type: 'image/gif' }]),
      415,
      'unsupported_format',
      before,
    );
  });

  it('a request without an "images" part', async () => {
    const before = await stored(server);
    const onlyField = new FormData();
    onlyField.append('title', 'no files here');
    await expectRejected(
      await fetch(`${server.url}/api/jobs`, { method: 'POST', body: onlyField, headers: bearer() }),
      400,
      'no_images',
      before,
    );
    await expectRejected(
      await server.upload([{ name: 'dog.jpg', bytes: dog, field: 'photo' }]),
      400,
      'bad_request',
      before,
    );
    await expectRejected(
      await fetch(`${server.url}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer() },
        body: JSON.stringify({ images: ['dog.jpg'] }),
      }),
      415,
      'bad_request',
      before,
    );
  });

  it('refuses an over-long body from its Content-Length, before reading it', async () => {
    const before = await stored(server);
    const boundary = 'tabgrid-boundary-early';
    // Claims 50 MB (over maxFiles * maxFileBytes + envelope); only 64 KiB are ever sent.
    const res = await partialUpload(
      server.url,
      {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(50 * 1024 * 1024),
      },
      Buffer.concat([multipartPrefix(boundary, 'huge.jpg'), Buffer.alloc(64 * 1024, 0xab)]),
    );
    expect(res.requestFinished).toBe(false);
    expect(res.status).toBe(413);
    expect(ApiErrorSchema.parse(JSON.parse(res.body)).error.code).toBe('file_too_large');
    expect(await stored(server)).toEqual(before);
    rejected.file_too_large = (rejected.file_too_large ?? 0) + 1;
  });

  it('refuses a streamed (chunked) file once it passes maxFileBytes, without waiting for the rest', async () => {
    const before = await stored(server);
    const boundary = 'tabgrid-boundary-chunked';
    // No Content-Length: the per-file limit must stop it. 2 x maxFileBytes sent, the body never ends.
    const res = await partialUpload(
      server.url,
      { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
      Buffer.concat([multipartPrefix(boundary, 'endless.jpg'), dog, Buffer.alloc(2 * MAX_FILE_BYTES, 1)]),
    );
    expect(res.requestFinished).toBe(false);
    expect(res.status).toBe(413);
    expect(ApiErrorSchema.parse(JSON.parse(res.body)).error.code).toBe('file_too_large');
    expect(await stored(server)).toEqual(before);
    rejected.file_too_large = (rejected.file_too_large ?? 0) + 1;
  });

  it('after all of the above, a valid job is stored and completed', async () => {
    const before = await stored(server);
    expect(before).toEqual(keptOnPurpose); // every bad request above left nothing behind
    const res = await server.upload([
      { name: 'dog.jpg', bytes: dog },
      { name: 'street.png', bytes: smallPng, type: 'image/png' },
    ]);
    expect(res.status).toBe(201);
    const job = (await res.json()) as { id: string };
    expect(await stored(server)).toEqual({ tasks: before.tasks + 2, files: before.files + 2 });
    volunteers.push(await FakeVolunteer.connect(server.url, { id: 'v-after-bad-uploads' }));
    const done = await server.waitForJob(job.id, 30_000);
    expect(done.status).toBe('done');
    expect(done.tasks.map((t) => t.name)).toEqual(['dog.jpg', 'street.png']);
  });
});

describe('a full queue', () => {
  let small: TestServer;
  afterAll(async () => {
    await small?.close();
  });

  it('answers 429 with Retry-After and stores nothing, then takes work again once drained', async () => {
    small = await startTestServer({ maxQueued: 3 });
    const ok = await small.upload([
      { name: 'a.jpg', bytes: dog },
      { name: 'b.jpg', bytes: dog },
    ]);
    expect(ok.status).toBe(201);
    const before = await stored(small);
    expect(before).toEqual({ tasks: 2, files: 1 }); // same bytes twice: one blob

    // 2 queued + 2 new > 3: refused as a whole.
    const twoMore = await small.upload([
      { name: 'c.jpg', bytes: readImage('person.jpg') },
      { name: 'd.jpg', bytes: readImage('000004.jpg') },
    ]);
    const text = await twoMore.text();
    expect(twoMore.status, text).toBe(429);
    expect(Number(twoMore.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(ApiErrorSchema.parse(JSON.parse(text)).error.code).toBe('queue_full');
    expect(await stored(small)).toEqual(before);
    // One more fits (3 queued), then the queue is at its limit and even one file is refused.
    expect((await small.upload([{ name: 'c.jpg', bytes: readImage('person.jpg') }])).status).toBe(201);
    const full = await stored(small);
    const res = await small.upload([{ name: 'd.jpg', bytes: readImage('000004.jpg') }]);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect(ApiErrorSchema.parse(await res.json()).error.code).toBe('queue_full');
    expect(await stored(small)).toEqual(full);
    rejected.queue_full = (rejected.queue_full ?? 0) + 2;

    const v = await FakeVolunteer.connect(small.url, { id: 'v-drain' });
    volunteers.push(v);
    await expect
      .poll(async () => (await small.store.counts()).done, { timeout: 30_000, interval: 50 })
      .toBe(3);
    const after = await small.upload([{ name: 'd.jpg', bytes: readImage('000004.jpg') }]);
    expect(after.status).toBe(201);
    const job = (await after.json()) as { id: string };
    expect((await small.waitForJob(job.id, 30_000)).status).toBe('done');
  });
});
