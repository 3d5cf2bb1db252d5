import type { Db } from '../../storage/database';
import type { AssignmentRow, TaskRow, TimingColumns } from './rows';
import type { TaskRecord } from '../records';

/** The SQLite store's statements, prepared once per database. */
export function prepareStatements(db: Db) {
  return {
    insertJob: db.prepare(
      `INSERT INTO jobs (id, seq, created_at, owner, public)
           VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?, ?, ?)`,
    ),
    jobOwner: db.prepare<[string], { owner: string | null }>('SELECT owner FROM jobs WHERE id = ?'),
    unfinishedOfJob: db.prepare<[string], TaskRow>(
      "SELECT * FROM tasks WHERE job_id = ? AND status IN ('queued', 'running')",
    ),
    insertTask: db.prepare(
      `INSERT INTO tasks (id, job_id, idx, name, image_sha256, mime, width, height, status, submitted_at)
           VALUES (@id, @jobId, @idx, @name, @imageSha256, @mime, @width, @height, 'queued', @submittedAt)`,
    ),
    task: db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?'),
    nextIdx: db.prepare<[string], { next: number }>(
      'SELECT COALESCE(MAX(idx), -1) + 1 AS next FROM tasks WHERE job_id = ?',
    ),
    jobTasks: db.prepare<[string], TaskRow & TimingColumns>(
      `SELECT t.*, a.assigned_at AS view_assigned_at, a.acked_at AS view_acked_at,
              a.inference_ms AS view_inference_ms
           FROM tasks t LEFT JOIN assignments a ON a.id = COALESCE(
             t.result_assignment_id,
             (SELECT id FROM assignments WHERE task_id = t.id ORDER BY assigned_at DESC, rowid DESC LIMIT 1))
           WHERE t.job_id = ? ORDER BY t.idx`,
    ),
    job: db.prepare<[string], { id: string; created_at: number }>(
      'SELECT id, created_at FROM jobs WHERE id = ?',
    ),
    assignment: db.prepare<[string], AssignmentRow>('SELECT * FROM assignments WHERE id = ?'),
    imageUsed: db.prepare<[string], { one: number }>(
      'SELECT 1 AS one FROM tasks WHERE image_sha256 = ? LIMIT 1',
    ),
    allLive: db.prepare<[], AssignmentRow>("SELECT * FROM assignments WHERE status IN ('offered', 'acked')"),
    /**
     * An assignment's row, written once when it ends (leases live in memory, lease-memory.ts),
     * and its attempt counted in its task's row in the same statement pair.
     */
    insertEnded: db.prepare<
      [string, string, string, string, number, number | null, number, number, string | null, number | null]
    >(
      `INSERT INTO assignments (id, task_id, volunteer_id, status, assigned_at, acked_at, lease_expires_at,
                                ended_at, outcome, inference_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    countAttempt: db.prepare('UPDATE tasks SET attempts = attempts + 1 WHERE id = ?'),
    endAssignment: db.prepare(
      'UPDATE assignments SET status = ?, ended_at = ?, outcome = ?, inference_ms = COALESCE(?, inference_ms) WHERE id = ?',
    ),
    markVerdict: db.prepare<[string, string]>(
      "UPDATE assignments SET outcome = ? WHERE id = ? AND status = 'completed'",
    ),
    requeueTask: db.prepare("UPDATE tasks SET status = 'queued' WHERE id = ? AND status = 'running'"),
    resultsForTask: db.prepare<[string], { n: number }>(
      "SELECT COUNT(*) AS n FROM assignments WHERE task_id = ? AND status = 'completed'",
    ),
    // Every verification, not only `trusted` (rule V7): a liar's replicated or refereed result
    // was published as its own too, and either result of a pair is in the mean it published.
    publishedOf: db.prepare<[string], { id: string }>(
      `SELECT a.id FROM tasks t JOIN assignments a
             ON a.id = t.result_assignment_id OR a.id = t.pair_assignment_id
           WHERE t.status = 'done' AND a.volunteer_id = ?`,
    ),
    reopenTask: db.prepare(
      `UPDATE tasks SET status = 'queued', completed_at = NULL, result_json = NULL,
             result_assignment_id = NULL, pair_assignment_id = NULL, verification = NULL, agreeing = 0,
             referee_ms = NULL
           WHERE id = ? AND status = 'done' AND ? IN (result_assignment_id, pair_assignment_id)
             AND job_id NOT IN (SELECT id FROM jobs WHERE deleted_at IS NOT NULL)`,
    ),
    completeTask: db.prepare(
      `UPDATE tasks SET status = 'done', completed_at = ?, result_json = ?, result_assignment_id = ?,
             verification = ?, agreeing = ?, pair_assignment_id = ?, referee_ms = ?
           WHERE id = ? AND status IN ('queued', 'running')`,
    ),
    failTask: db.prepare(
      `UPDATE tasks SET status = 'failed', completed_at = ?, error_code = ?, error_message = ?
           WHERE id = ? AND status IN ('queued', 'running')`,
    ),
    countFailure: db.prepare('UPDATE tasks SET failure_reports = failure_reports + 1 WHERE id = ?'),
    counts: db.prepare<[], { status: TaskRecord['status']; n: number }>(
      'SELECT status, COUNT(*) AS n FROM tasks GROUP BY status',
    ),
    queuedInOrder: db.prepare<[], { id: string; job_id: string }>(
      `SELECT t.id, t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id
           WHERE t.status = 'queued' ORDER BY j.seq, t.idx`,
    ),
    overdueQueued: db.prepare<[number], TaskRow>(
      "SELECT * FROM tasks WHERE status = 'queued' AND submitted_at < ?",
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
