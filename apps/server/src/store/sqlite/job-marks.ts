import type { Db } from '../../storage/database';
import type { DeletedJob } from '../scheduling-store';

/** The job record's own fields the store writes besides its tasks: deletion and ownership. */
export class JobMarks {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      deletedAt: db.prepare<[string], { deleted_at: number | null }>(
        'SELECT deleted_at FROM jobs WHERE id = ?',
      ),
      markDeleted: db.prepare('UPDATE jobs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
      imagesOnlyHere: db.prepare<[string, string], { sha: string }>(
        `SELECT DISTINCT t.image_sha256 AS sha FROM tasks t WHERE t.job_id = ?
         AND NOT EXISTS (SELECT 1 FROM tasks o WHERE o.image_sha256 = t.image_sha256 AND o.job_id != ?
                         AND o.job_id IN (SELECT id FROM jobs WHERE deleted_at IS NULL))`,
      ),
      adopt: db.prepare('UPDATE jobs SET owner = ? WHERE owner IS NULL OR owner = ?'),
    };
  }

  /** Idempotent: a second call keeps the first time and frees nothing new. */
  markDeleted(jobId: string, now: number): DeletedJob {
    const first = this.s.markDeleted.run(now, jobId).changes > 0;
    const deletedAt = this.s.deletedAt.get(jobId)?.deleted_at ?? now;
    return { deletedAt, freeable: first ? this.s.imagesOnlyHere.all(jobId, jobId).map((r) => r.sha) : [] };
  }

  adoptOrphans(owner: string): number {
    return this.s.adopt.run(owner, '').changes;
  }
}
