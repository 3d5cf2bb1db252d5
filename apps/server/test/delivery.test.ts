/**
 * Delivery of what every new volunteer downloads: the WASM runtime (versioned folder under /ort/)
 * and the model (content-addressed URL) are cached for a year and sent precompressed to clients
 * that accept Brotli or gzip. Runs on a small stand-in for the built app (the vitest run comes
 * before `vite build` in `npm test`), with real .br/.gz siblings made here.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVolunteer } from './support/fake-volunteer';
import { startTestServer, type TestServer } from './support/harness';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const WASM = '/ort/9.9.9/runtime.wasm';
const wasmBytes = Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 7));

let server: TestServer;
let staticDir: string;

beforeAll(async () => {
  staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-static-'));
  fs.mkdirSync(path.join(staticDir, 'ort', '9.9.9'), { recursive: true });
  const file = path.join(staticDir, WASM);
  fs.writeFileSync(file, wasmBytes);
  fs.writeFileSync(`${file}.br`, zlib.brotliCompressSync(wasmBytes));
  fs.writeFileSync(`${file}.gz`, zlib.gzipSync(wasmBytes));
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  server = await startTestServer({ staticDir });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(staticDir, { recursive: true, force: true });
});

const get = (url: string, acceptEncoding: string) =>
  fetch(`${server.url}${url}`, { headers: { 'accept-encoding': acceptEncoding } });

describe('WASM runtime under /ort/<version>/', () => {
  it('is sent as Brotli, else gzip, else identity, always immutable and varying on Accept-Encoding', async () => {
    for (const [accept, encoding, decode] of [
      ['br, gzip', 'br', zlib.brotliDecompressSync],
      ['gzip', 'gzip', zlib.gunzipSync],
      ['identity', null, (b: Buffer) => b],
    ] as const) {
      // undici's fetch would decode by itself; read the raw bytes through node's http instead.
      const res = await rawGet(`${server.url}${WASM}`, accept);
      expect(res.status, accept).toBe(200);
      expect(res.headers['content-encoding'] ?? null, accept).toBe(encoding);
      expect(res.headers['cache-control'], accept).toBe(IMMUTABLE);
      expect(res.headers['vary'], accept).toMatch(/accept-encoding/i);
      expect(res.headers['cross-origin-embedder-policy'], accept).toBe('require-corp');
      expect(Buffer.compare(decode(res.body), wasmBytes), accept).toBe(0);
    }
  });

  it('leaves pages revalidated, not immutable', async () => {
    const res = await get('/volunteer', 'br');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).not.toContain('immutable');
  });
});

describe('model URL', () => {
  it('is content-addressed in hello, immutable, and 404 for any other hash', async () => {
    const volunteer = await FakeVolunteer.connect(server.url, { id: 'v-delivery' });
    try {
      const { url, sha256, bytes } = volunteer.hello!.model;
      expect(url).toBe(`/models/sha256/${sha256}/yolox_nano.onnx`);
      const res = await get(url, 'identity');
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe(IMMUTABLE);
      expect((await res.arrayBuffer()).byteLength).toBe(bytes);
      const other = await get(url.replace(sha256, '0'.repeat(64)), 'identity');
      expect(other.status).toBe(404);
    } finally {
      volunteer.close();
    }
  });
});

function rawGet(url: string, acceptEncoding: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
    (resolve, reject) => {
      http
        .get(url, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        })
        .on('error', reject);
    },
  );
}
