import type { BlobStore } from './blob-store';

/**
 * A small least-recently-used cache of image bytes in front of the blob store,
 * so a task offered again (requeue, retry) or the same photo in many tasks is
 * not read from disk each time. Concurrent reads of one blob share one read.
 */
export class ImageCache {
  private readonly entries = new Map<string, Promise<Buffer>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(
    private readonly blobs: Pick<BlobStore, 'get'>,
    /** @defaultValue 64 MiB */
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  get(sha256: string): Promise<Buffer> {
    const hit = this.entries.get(sha256);
    if (hit) {
      // refresh recency
      this.entries.delete(sha256);
      this.entries.set(sha256, hit);
      return hit;
    }
    const read = this.blobs.get(sha256);
    this.entries.set(sha256, read);
    read.then(
      (buf) => {
        if (this.entries.get(sha256) !== read) return;
        this.sizes.set(sha256, buf.length);
        this.bytes += buf.length;
        this.evict();
      },
      () => this.entries.delete(sha256),
    );
    return read;
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) return;
      const size = this.sizes.get(key);
      if (size === undefined) continue; // still being read
      this.entries.delete(key);
      this.sizes.delete(key);
      this.bytes -= size;
    }
  }
}
