import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

/**
 * Schema migrations, applied in order; `user_version` records how many ran.
 * Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
  );
  CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    job_id          TEXT NOT NULL REFERENCES jobs(id),
    idx             INTEGER NOT NULL,
    name            TEXT NOT NULL,
    image_sha256    TEXT NOT NULL,
    mime            TEXT NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    submitted_at    INTEGER NOT NULL,
    completed_at    INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failure_reports INTEGER NOT NULL DEFAULT 0,
    result_json     TEXT,
    result_assignment_id TEXT,
    error_code      TEXT,
    error_message   TEXT,
    UNIQUE (job_id, idx)
  );
  CREATE INDEX tasks_by_status ON tasks(status);
  CREATE TABLE assignments (
    id               TEXT PRIMARY KEY,
    task_id          TEXT NOT NULL REFERENCES tasks(id),
    volunteer_id     TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('offered', 'acked', 'completed', 'lapsed', 'released', 'failed', 'superseded')),
    assigned_at      INTEGER NOT NULL,
    acked_at         INTEGER,
    lease_expires_at INTEGER NOT NULL,
    ended_at         INTEGER,
    outcome          TEXT,
    inference_ms     REAL
  );
  CREATE INDEX assignments_by_task ON assignments(task_id);
  CREATE INDEX assignments_live ON assignments(status, lease_expires_at) WHERE status IN ('offered', 'acked');
  `,
  // 2: a disconnect looks up that volunteer's live leases; without this it scanned every assignment
  // (10,000 disconnects x 40,000 rows stalled the server for seconds in the capacity benchmark).
  `
  CREATE INDEX assignments_live_by_volunteer ON assignments(volunteer_id) WHERE status IN ('offered', 'acked');
  `,
  // 3: one row the health probe (storage/probes.ts) rewrites, to see that a write commits.
  `
  CREATE TABLE health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
  `,
  // 4: access (apps/server/src/access/): every job has an owner (a key name) and may be public;
  // deleted jobs keep their results but not their image bytes. Keys are stored as SHA-256 hashes.
  `
  ALTER TABLE jobs ADD COLUMN owner TEXT;
  ALTER TABLE jobs ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN deleted_at INTEGER;
  CREATE INDEX jobs_by_owner ON jobs(owner, seq);
  CREATE INDEX tasks_by_image ON tasks(image_sha256);
  CREATE TABLE api_keys (
    name        TEXT PRIMARY KEY,
    key_sha256  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
  );
  `,
  // 5: server-issued volunteer identities (apps/server/src/identity/). Only the token's SHA-256 is kept.
  `
  CREATE TABLE volunteer_identities (
    id            TEXT PRIMARY KEY,
    token_sha256  BLOB NOT NULL,
    display_name  TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
  );
  `,
  // 6: verification (apps/server/src/verification/): how a task's final result was verified, and
  // each volunteer identity's reputation (streak, trusted, quarantined).
  `
  ALTER TABLE tasks ADD COLUMN verification TEXT;
  ALTER TABLE tasks ADD COLUMN agreeing INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE volunteer_reputation (
    volunteer_id    TEXT PRIMARY KEY,
    streak          INTEGER NOT NULL,
    verified        INTEGER NOT NULL,
    invalid         INTEGER NOT NULL,
    trusted_at      INTEGER,
    quarantined_at  INTEGER
  );
  `,
  // 7: the credit ledger (apps/server/src/ledger/): append-only entries (one per assignment) and
  // state-change events; the triggers refuse any UPDATE or DELETE of either. Totals and daily
  // totals are maintained aggregates, recomputable from the entries and events.
  `
  CREATE TABLE credit_entries (
    assignment_id  TEXT PRIMARY KEY,
    volunteer_id   TEXT NOT NULL,
    task_id        TEXT NOT NULL,
    base           INTEGER NOT NULL,
    bonus          INTEGER NOT NULL,
    day            INTEGER NOT NULL,
    at             INTEGER NOT NULL
  );
  CREATE INDEX credit_entries_by_volunteer ON credit_entries(volunteer_id, at);
  CREATE TABLE credit_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    assignment_id  TEXT NOT NULL REFERENCES credit_entries(assignment_id),
    volunteer_id   TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('provisional', 'granted', 'revoked')),
    reason         TEXT,
    at             INTEGER NOT NULL
  );
  CREATE INDEX credit_events_by_entry ON credit_events(assignment_id, seq);
  CREATE INDEX credit_events_by_volunteer ON credit_events(volunteer_id, seq);
  CREATE TRIGGER credit_entries_append_only_u BEFORE UPDATE ON credit_entries
    BEGIN SELECT RAISE(ABORT, 'the credit ledger is append-only'); END;
  CREATE TRIGGER credit_entries_append_only_d BEFORE DELETE ON credit_entries
    BEGIN SELECT RAISE(ABORT, 'the credit ledger is append-only'); END;
  CREATE TRIGGER credit_events_append_only_u BEFORE UPDATE ON credit_events
    BEGIN SELECT RAISE(ABORT, 'the credit ledger is append-only'); END;
  CREATE TRIGGER credit_events_append_only_d BEFORE DELETE ON credit_events
    BEGIN SELECT RAISE(ABORT, 'the credit ledger is append-only'); END;
  CREATE TABLE credit_totals (
    volunteer_id   TEXT PRIMARY KEY,
    pending        INTEGER NOT NULL DEFAULT 0,
    granted        INTEGER NOT NULL DEFAULT 0,
    revoked        INTEGER NOT NULL DEFAULT 0,
    granted_count  INTEGER NOT NULL DEFAULT 0,
    revoked_count  INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX credit_totals_by_granted ON credit_totals(granted);
  CREATE TABLE credit_daily (
    volunteer_id   TEXT NOT NULL,
    day            INTEGER NOT NULL,
    pending        INTEGER NOT NULL DEFAULT 0,
    granted        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (volunteer_id, day)
  );
  `,
  // 8: webhooks (apps/server/src/webhooks/): jobs with a callback URL whose event is not decided
  // yet, the delivery queue (one row per job, PROTOCOL.md W1–W12), and the generated signing secret.
  `
  CREATE TABLE webhook_targets (
    job_id      TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    created_at  INTEGER NOT NULL
  );
  CREATE TABLE webhook_deliveries (
    job_id       TEXT PRIMARY KEY,
    msg_id       TEXT NOT NULL,
    url          TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    last_error   TEXT,
    claim_token  TEXT
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(due_at) WHERE state = 'pending';
  CREATE TABLE webhook_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // 9: access (apps/server/src/access/): a job cancelled by its owner keeps its results
  // (cancelled_at), and how many photos its requester meant to send (expected; null: not said).
  `
  ALTER TABLE jobs ADD COLUMN cancelled_at INTEGER;
  ALTER TABLE jobs ADD COLUMN expected INTEGER;
  `,
  // 10: verification: the other result of the agreeing pair whose mean a task publishes, so that
  // backtracking finds it whichever of the two lied (rule V7a).
  `
  ALTER TABLE tasks ADD COLUMN pair_assignment_id TEXT;
  `,
  // 11: verification: the referee's inference time of a task whose published result is its own
  // (a refereed task has no result assignment to hold it; null otherwise).
  `
  ALTER TABLE tasks ADD COLUMN referee_ms INTEGER;
  `,
  // 12: webhooks: when a delivery was decided (delivered or given up), so that decided rows are
  // pruned after TABGRID_WEBHOOK_RETENTION_MS; rows decided before this migration count from the
  // end of their last attempt's lease (due_at).
  `
  ALTER TABLE webhook_deliveries ADD COLUMN settled_at INTEGER;
  UPDATE webhook_deliveries SET settled_at = due_at WHERE state != 'pending';
  CREATE INDEX webhook_deliveries_settled ON webhook_deliveries(settled_at) WHERE state != 'pending';
  `,
  // 13: verification: canaries each volunteer answered right (rule V12), for what canaries cost it.
  `
  ALTER TABLE volunteer_reputation ADD COLUMN canaries INTEGER NOT NULL DEFAULT 0;
  `,
];

export const DATABASE_FILE = 'tabgrid.sqlite';

/**
 * Opens (creating if needed) the SQLite database in WAL mode and migrates it.
 *
 * `synchronous = NORMAL`: every commit is in the WAL before the call returns,
 * so it survives a crash of this process (SIGKILL); only the fsync is batched
 * to checkpoints. That keeps lease bookkeeping (assign, ack, heartbeat,
 * result) off the disk's fsync latency. What must survive power loss as well
 * — an accepted upload — is written with `durably()`.
 */
export function openDatabase(dataDir: string, busyTimeoutMs = 5000): Db {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, DATABASE_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}

/**
 * Runs `fn` as one transaction committed with `synchronous = FULL` (fsync of
 * the WAL before returning), for writes that must survive power loss.
 */
export function durably<T>(db: Db, fn: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}
