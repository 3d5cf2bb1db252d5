import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Images on disk, content-addressed by SHA-256 (`images/ab/abcdef…`). A blob is
 * written to a temporary file, fsynced, renamed into place and its directory
 * fsynced, so once `put` resolves the bytes survive a crash. The same bytes
 * uploaded twice are stored once. Client file names never reach the file system.
 */
export class BlobStore {
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'images');
  }

  static sha256(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex');
  }

  private pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  /** Stores the bytes durably; returns their SHA-256. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = BlobStore.sha256(bytes);
    const target = this.pathOf(sha256);
    const dir = path.dirname(target);
    try {
      await fs.access(target);
      return sha256; // already stored (and fsynced when it was first written)
    } catch {
      /* not there yet */
    }
    await fs.mkdir(dir, { recursive: true });
    // Unique per call: two uploads of the same bytes may be stored at the same moment.
    const tmp = `${target}.${randomBytes(8).toString('hex')}.tmp`;
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, target);
    const dirHandle = await fs.open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
    return sha256;
  }

  async get(sha256: string): Promise<Buffer> {
    return fs.readFile(this.pathOf(sha256));
  }

  /** Removes stored bytes (a deleted job's images nothing else uses). False if they were not there. */
  async delete(sha256: string): Promise<boolean> {
    try {
      await fs.unlink(this.pathOf(sha256));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }
}
