import { TabgridError } from '@tabgrid/protocol';
import type { Clock } from '../clock';
import type { ErrorSink } from '../observability/error-sink';
import type { HealthMonitor } from '../observability/health';
import type { CreatedJob, JobAccessFields, SchedulingStore } from '../store/scheduling-store';
import type { NewTask } from '../store/records';
import type { BlobStore, IncomingFile } from './blob-store';
import { assertFreeSpace, LowDiskSpaceError } from './probes';
import { classifyStorageError } from './storage-errors';

/** Seconds a client is told to wait (`Retry-After`) when the database is unavailable. */
export const STORAGE_RETRY_AFTER_S = 5;

export interface UploadStorage {
  /**
   * Before anything of an upload is written (its body is read, into memory): refuses it with `507
   * insufficient_storage` when free disk space is below `minFreeBytes`, or
   * `503 storage_unavailable` while the database is known to be down.
   */
  preflight(): Promise<void>;
  /**
   * Stores the images and the job's rows, all or nothing: if a write fails,
   * the blobs this upload alone created are removed, no row exists, and the
   * error is `507 insufficient_storage` (disk full) or `503
   * storage_unavailable` (database busy, locked or failing; retry).
   */
  store(images: IncomingFile[], tasks: NewTask[], access: JobAccessFields): Promise<CreatedJob>;
  /** Adds images to an existing job with the same all-or-nothing guarantee and errors as `store`. */
  append(jobId: string, images: IncomingFile[], tasks: NewTask[]): Promise<CreatedJob>;
  /**
   * Receives one uploaded file to disk (`BlobStore.receive`); a full disk is `507
   * insufficient_storage`, with nothing left behind.
   */
  receive(source: AsyncIterable<Buffer>, onChunk?: (bytes: number) => void): Promise<IncomingFile>;
  /** Removes received files' temporary files (every upload does, whatever happened). */
  discard(files: IncomingFile[]): Promise<void>;
}

interface Deps {
  dataDir: string;
  minFreeBytes: number;
  blobs: BlobStore;
  store: Pick<SchedulingStore, 'createJob' | 'appendTasks' | 'isImageReferenced'>;
  /** The health probe of the store (`database` or `redis`): uploads are refused while it fails. */
  storeProbe: string;
  health: Pick<HealthMonitor, 'failure' | 'markFailed'>;
  errors: ErrorSink;
  clock: Clock;
}

const full = (detail: string) =>
  new TabgridError(
    'insufficient_storage',
    `the server is out of disk space (${detail}); nothing was stored. Try again later`,
    507,
  );
const unavailable = (detail: string) =>
  new TabgridError(
    'storage_unavailable',
    `the server cannot store uploads right now (${detail}); nothing was stored. Retry in ${STORAGE_RETRY_AFTER_S} s`,
    503,
  );

export function uploadStorage(deps: Deps): UploadStorage {
  return {
    async preflight() {
      try {
        await assertFreeSpace(deps.dataDir, deps.minFreeBytes);
      } catch (err) {
        if (err instanceof LowDiskSpaceError) throw full(err.message);
        throw err;
      }
      const db = deps.health.failure(deps.storeProbe);
      if (db) throw db.fault === 'full' ? full(db.error) : unavailable(db.error);
    },

    async receive(source, onChunk) {
      try {
        return await deps.blobs.receive(source, onChunk);
      } catch (err) {
        if (classifyStorageError(err) !== 'full') throw err;
        deps.errors.report('http.upload', err);
        throw full(describe(err));
      }
    },

    async discard(files) {
      for (const file of files) {
        await deps.blobs
          .discard(file)
          .catch((err: unknown) => deps.errors.report('http.upload.discard', err));
      }
    },

    async store(images, tasks, access) {
      const created = await writeAllOrNothing(images, tasks, () =>
        deps.store.createJob(tasks, deps.clock.now(), access),
      );
      return rewriteFreed(created, images, tasks);
    },

    async append(jobId, images, tasks) {
      const created = await writeAllOrNothing(images, tasks, () =>
        deps.store.appendTasks(jobId, tasks, deps.clock.now()),
      );
      return rewriteFreed(created, images, tasks);
    },
  };

  /**
   * Writes again the bytes a concurrent job deletion removed while the tasks were stored (Redis
   * mode, `CreatedJob.freeing`): the tasks exist and refer to them. The job is stored whatever
   * happens here; a failure is reported (those tasks would fail for want of their image).
   */
  async function rewriteFreed(
    created: CreatedJob,
    images: IncomingFile[],
    tasks: NewTask[],
  ): Promise<CreatedJob> {
    const { freeing = [], ...job } = created;
    for (const sha of freeing) {
      const index = tasks.findIndex((t) => t.imageSha256 === sha);
      if (index < 0) continue;
      try {
        await deps.blobs.adopt(images[index]!);
      } catch (err) {
        deps.errors.report('http.upload.rewrite', err);
      }
    }
    return job;
  }

  /**
   * The images of these tasks that stored tasks refer to. When the store cannot say (it is the
   * store that failed), an image counts as used: an orphan blob is harmless, a missing one is not.
   */
  async function referencedImages(tasks: NewTask[]): Promise<Set<string>> {
    const used = new Set<string>();
    for (const sha of new Set(tasks.map((t) => t.imageSha256).filter((s) => s !== ''))) {
      try {
        if (await deps.store.isImageReferenced(sha)) used.add(sha);
      } catch {
        used.add(sha);
      }
    }
    return used;
  }

  /** Writes the bytes (durable before any row), then the rows; on failure removes the new blobs. */
  async function writeAllOrNothing<T>(
    images: IncomingFile[],
    tasks: NewTask[],
    writeRows: () => Promise<T>,
  ): Promise<T> {
    const batch = deps.blobs.batch();
    try {
      // Bytes are durable (fsync) before the task rows exist and before the answer is sent.
      for (const [index, file] of images.entries()) tasks[index]!.imageSha256 = await batch.adopt(file);
      // Durable before it resolves (SQLite commit; Redis EXEC with appendfsync always).
      const result = await writeRows();
      batch.commit();
      return result;
    } catch (err) {
      const used = await referencedImages(tasks);
      batch.abort((sha) => used.has(sha));
      const fault = classifyStorageError(err);
      if (!fault) throw err;
      deps.errors.report('http.upload', err);
      if (fault === 'full') throw full(describe(err));
      deps.health.markFailed(deps.storeProbe, err);
      throw unavailable(describe(err));
    }
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'write failed';
}
