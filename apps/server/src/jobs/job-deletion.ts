import type { JobDeleted } from '@tabgrid/protocol';
import type { BlobStore } from '../storage/blob-store';
import type { JobRecords } from '../store/scheduling-store';

export interface JobDeletionDeps {
  store: Pick<JobRecords, 'markDeleted'>;
  /** Ends the job's unfinished tasks everywhere and tells their volunteers (`Scheduler.cancelJob`). */
  cancel: (jobId: string) => Promise<number>;
  blobs: Pick<BlobStore, 'delete'>;
}

/**
 * Deletes a job (its owner was checked): marks it deleted first, so nothing reopens or adds to it
 * while its tasks are cancelled (backtracking and appends skip a deleted job); then cancels its
 * unfinished tasks (volunteers holding them get `task:cancel`), keeps its finished results, and
 * removes the image bytes no other job uses. A failure answers 503 and changed nothing beyond
 * what a new call finishes: the mark keeps its first time and the cancel is idempotent.
 */
export async function deleteJob(deps: JobDeletionDeps, jobId: string, now: number): Promise<JobDeleted> {
  const { deletedAt, freeable, freed } = await deps.store.markDeleted(jobId, now);
  let imagesDeleted = 0;
  try {
    // Redis: the other gateways' share is cancelled before the images go (if that failed, they
    // stay: an orphan file, never a task without its image).
    const cancelled = await deps.cancel(jobId);
    for (const sha256 of freeable) if (await deps.blobs.delete(sha256)) imagesDeleted++;
    return { id: jobId, cancelled, imagesDeleted, deletedAt };
  } finally {
    // Uploads of the same bytes on any gateway wait for this, then write them again.
    await freed?.(freeable);
  }
}
