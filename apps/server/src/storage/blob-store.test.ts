import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobStore, DirectoryBlobStore } from './blob-store';

describe('BlobStore', () => {
  it('stores bytes under their SHA-256 and reads them back', async () => {
    const store = new DirectoryBlobStore(fs.mkdtempSync(path.join(os.tmpdir(), 'blobs-')));
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const sha = await store.put(bytes);
    expect(sha).toBe(BlobStore.sha256(bytes));
    expect([...(await store.get(sha))]).toEqual([1, 2, 3, 4]);
  });

  it('stores the same bytes put concurrently once, without failing any put', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobs-'));
    const store = new DirectoryBlobStore(dir);
    const bytes = new Uint8Array(64 * 1024).fill(7);
    const shas = await Promise.all(Array.from({ length: 50 }, () => store.put(bytes)));
    expect(new Set(shas).size).toBe(1);
    const files = fs.readdirSync(path.join(dir, shas[0]!.slice(0, 2)));
    expect(files).toEqual([shas[0]]); // no temporary files left behind
  });

  it('refuses a path that is not a SHA-256', async () => {
    const store = new DirectoryBlobStore(fs.mkdtempSync(path.join(os.tmpdir(), 'blobs-')));
    await expect(store.get('../../etc/passwd')).rejects.toThrow(/not a sha256/);
  });
});
