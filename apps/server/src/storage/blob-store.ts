import { createHash, randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Makes a new directory entry (a renamed or linked blob) durable: fsync of its directory. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes the bytes of a new blob to its open temporary file. Replaceable to inject faults (tests). */
export type BlobWriter = (handle: fs.FileHandle, bytes: Uint8Array) => Promise<void>;

const defaultWriter: BlobWriter = (handle, bytes) => handle.writeFile(bytes);

/**
 * An uploaded file received to a temporary file beside the blobs (`receive`), hashed and counted
 * on the way: nothing of it is in memory. `adopt` makes it a blob; `discard` removes it.
 */
export interface IncomingFile {
  /** The temporary file (`<root>/.incoming/<random>.tmp`). */
  path: string;
  sha256: string;
  size: number;
}

/**
 * Content-addressed image bytes (SHA-256). One implementation today, `DirectoryBlobStore`: a
 * local directory (`<dataDir>/images`, the default) or a directory every gateway mounts at the
 * same path (NFS/EFS-style, `TABGRID_BLOB_DIR`; docs/DEPLOY.md). An object store would be a
 * second implementation of this interface.
 */
export interface BlobStore {
  /** A set of puts that is committed (kept) or aborted (blobs it created and nobody else uses are removed). */
  batch(): BlobBatch;
  /** Removes a blob at once (synchronously, so no other request can start using it in between). */
  removeSync(sha256: string): void;
  /**
   * Streams `source` to a temporary file beside the blobs, hashing and counting it, and fsyncs it.
   * `onChunk` sees each chunk's size before it is written and may throw to stop (a byte budget).
   * On any failure the temporary file is removed and the error rethrown.
   */
  receive(source: AsyncIterable<Buffer>, onChunk?: (bytes: number) => void): Promise<IncomingFile>;
  /**
   * Makes a received file a blob (a hard link, so it is atomic and the temporary file stays until
   * `discard`); says whether this call created the blob.
   */
  adopt(file: IncomingFile): Promise<{ sha256: string; created: boolean }>;
  /** Removes a received file's temporary file (never the blob it became). */
  discard(file: IncomingFile): Promise<void>;
  /** Stores the bytes durably; returns their SHA-256. */
  put(bytes: Uint8Array): Promise<string>;
  /** Like `put`, and says whether this call created the blob (false: the bytes were already stored). */
  putNew(bytes: Uint8Array): Promise<{ sha256: string; created: boolean }>;
  get(sha256: string): Promise<Buffer>;
  /** Removes stored bytes (a deleted job's images nothing else uses). False if they were not there. */
  delete(sha256: string): Promise<boolean>;
}

export const BlobStore = {
  /** The content address of `bytes` (hex SHA-256). */
  sha256: (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex'),
};

/**
 * Images on disk, content-addressed by SHA-256 (`<root>/ab/abcdef…`). A blob is
 * written to a temporary file, fsynced, renamed into place and its directory
 * fsynced, so once `put` resolves the bytes survive a crash. The same bytes
 * uploaded twice are stored once. Client file names never reach the file system.
 * A write that fails (disk full, I/O error) leaves no temporary file behind.
 *
 * Uploads write through a `BlobBatch` (`batch()`), so that a job whose
 * database rows could not be written removes the blobs it alone created.
 */
export class DirectoryBlobStore implements BlobStore {
  /** Blobs that uploads in progress have put but not yet committed or aborted: never removed meanwhile. */
  private readonly pending = new Map<string, number>();

  /** @param root the blobs' directory, e.g. `<dataDir>/images` or the shared `TABGRID_BLOB_DIR` */
  constructor(
    private readonly root: string,
    private readonly writer: BlobWriter = defaultWriter,
  ) {}

  /** A set of puts that is committed (kept) or aborted (blobs it created and nobody else uses are removed). */
  batch(): BlobBatch {
    return new BlobBatch(this, this.pending);
  }

  /** Removes a blob at once (synchronously, so no other request can start using it in between). */
  removeSync(sha256: string): void {
    try {
      fsSync.unlinkSync(this.pathOf(sha256));
    } catch {
      /* already gone */
    }
  }

  /** Where received files wait: beside the blobs, so a link into place never crosses volumes. */
  private get incomingDir(): string {
    return path.join(this.root, '.incoming');
  }

  async receive(source: AsyncIterable<Buffer>, onChunk?: (bytes: number) => void): Promise<IncomingFile> {
    await fs.mkdir(this.incomingDir, { recursive: true });
    const tmp = path.join(this.incomingDir, `${randomBytes(12).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const handle = await fs.open(tmp, 'w');
      try {
        // One chunk at a time: the source is read only as fast as the disk takes it.
        for await (const chunk of source) {
          onChunk?.(chunk.length);
          hash.update(chunk);
          size += chunk.length;
          await this.writer(handle, chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    return { path: tmp, sha256: hash.digest('hex'), size };
  }

  async adopt(file: IncomingFile): Promise<{ sha256: string; created: boolean }> {
    const { sha256 } = file;
    const target = this.pathOf(sha256);
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true });
    try {
      await fs.link(file.path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { sha256, created: false };
      throw err;
    }
    await syncDir(dir);
    return { sha256, created: true };
  }

  async discard(file: IncomingFile): Promise<void> {
    await fs.rm(file.path, { force: true });
  }

  private pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  /** Stores the bytes durably; returns their SHA-256. */
  async put(bytes: Uint8Array): Promise<string> {
    return (await this.putNew(bytes)).sha256;
  }

  /** Like `put`, and says whether this call created the file (false: the bytes were already stored). */
  async putNew(bytes: Uint8Array): Promise<{ sha256: string; created: boolean }> {
    const sha256 = BlobStore.sha256(bytes);
    const target = this.pathOf(sha256);
    const dir = path.dirname(target);
    try {
      await fs.access(target);
      return { sha256, created: false }; // already stored (and fsynced when it was first written)
    } catch {
      /* not there yet */
    }
    await fs.mkdir(dir, { recursive: true });
    // Unique per call: two uploads of the same bytes may be stored at the same moment.
    const tmp = `${target}.${randomBytes(8).toString('hex')}.tmp`;
    try {
      const handle = await fs.open(tmp, 'w');
      try {
        await this.writer(handle, bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await syncDir(dir);
    return { sha256, created: true };
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

/**
 * The blobs of one upload. `abort(isReferenced)` removes every blob this batch
 * created that no other upload in progress has put and no stored task
 * references, so a failed upload leaves no files behind.
 */
export class BlobBatch {
  private readonly shas: string[] = [];
  private readonly created = new Set<string>();
  private open = true;

  constructor(
    private readonly blobs: BlobStore,
    private readonly pending: Map<string, number>,
  ) {}

  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = BlobStore.sha256(bytes);
    this.pin(sha256);
    const { created } = await this.blobs.putNew(bytes);
    if (created) this.created.add(sha256);
    return sha256;
  }

  /** Like `put`, for a file received to disk (`BlobStore.receive`). */
  async adopt(file: IncomingFile): Promise<string> {
    this.pin(file.sha256);
    const { created } = await this.blobs.adopt(file);
    if (created) this.created.add(file.sha256);
    return file.sha256;
  }

  /** The upload's rows are stored: keep every blob. */
  commit(): void {
    this.unpinAll();
  }

  /**
   * The upload failed: remove the blobs only it created. Removal is synchronous (no other
   * upload may start using a blob in between), so `isReferenced` answers at once: the caller
   * asked the store beforehand (an image it could not ask about counts as referenced).
   */
  abort(isReferenced: (sha256: string) => boolean): void {
    this.unpinAll();
    for (const sha of this.created) {
      if ((this.pending.get(sha) ?? 0) > 0) continue;
      let used = true;
      try {
        used = isReferenced(sha);
      } catch {
        /* cannot tell (database down): keep the file, it is only an orphan */
      }
      if (!used) this.blobs.removeSync(sha);
    }
  }

  private pin(sha: string): void {
    this.shas.push(sha);
    this.pending.set(sha, (this.pending.get(sha) ?? 0) + 1);
  }

  private unpinAll(): void {
    if (!this.open) return;
    this.open = false;
    for (const sha of this.shas) {
      const n = (this.pending.get(sha) ?? 1) - 1;
      if (n <= 0) this.pending.delete(sha);
      else this.pending.set(sha, n);
    }
  }
}
