import { randomBytes } from 'node:crypto';
import type { Db } from '../storage/database';
import type { ClaimedDelivery, DeliveryRecord, NewDelivery, WebhookQueue, WebhookTarget } from './types';

interface DeliveryRow {
  job_id: string;
  msg_id: string;
  url: string;
  payload: string;
  state: DeliveryRecord['state'];
  attempts: number;
  due_at: number;
  last_error: string | null;
  claim_token: string | null;
}

const record = (r: DeliveryRow): DeliveryRecord => ({
  jobId: r.job_id,
  msgId: r.msg_id,
  url: r.url,
  payload: r.payload,
  state: r.state,
  attempts: r.attempts,
  dueAt: r.due_at,
  lastError: r.last_error,
});

/**
 * The delivery queue in the server's SQLite database (tables `webhook_targets`,
 * `webhook_deliveries`, `webhook_settings`; migration 8 in storage/database.ts). One process
 * owns the file, so a claim is one transaction; a claim still holds a lease (`due_at` moves to
 * the lease's end) so that an attempt cut short by a crash is sent again after a restart.
 * Methods are `async` only to share the interface: their statements have run when they return.
 */
export class SqliteWebhookQueue implements WebhookQueue {
  private readonly q;
  readonly secretLocation: string;

  constructor(private readonly db: Db) {
    this.secretLocation = `sqlite3 ${db.name} "SELECT value FROM webhook_settings WHERE key = 'secret'"`;
    this.q = {
      addTarget: db.prepare(
        'INSERT OR IGNORE INTO webhook_targets (job_id, url, created_at) VALUES (?, ?, ?)',
      ),
      target: db.prepare<[string], { job_id: string; url: string }>(
        'SELECT job_id, url FROM webhook_targets WHERE job_id = ?',
      ),
      targets: db.prepare<[string, number], { job_id: string; url: string }>(
        'SELECT job_id, url FROM webhook_targets WHERE job_id > ? ORDER BY job_id LIMIT ?',
      ),
      dropTarget: db.prepare('DELETE FROM webhook_targets WHERE job_id = ?'),
      enqueue: db.prepare(
        `INSERT OR IGNORE INTO webhook_deliveries (job_id, msg_id, url, payload, state, attempts, due_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?)`,
      ),
      due: db.prepare<[number, number], DeliveryRow>(
        "SELECT * FROM webhook_deliveries WHERE state = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?",
      ),
      claim: db.prepare(
        'UPDATE webhook_deliveries SET attempts = attempts + 1, due_at = ?, claim_token = ? WHERE job_id = ?',
      ),
      // A final state leaves the queue and drops the payload (the row stays: the event was decided).
      settle: db.prepare(
        `UPDATE webhook_deliveries SET state = @state, due_at = COALESCE(@dueAt, due_at),
           last_error = COALESCE(@error, last_error), claim_token = NULL,
           payload = CASE WHEN @state = 'pending' THEN payload ELSE '' END, settled_at = @at
         WHERE job_id = @jobId AND claim_token = @token AND state = 'pending'`,
      ),
      prune: db.prepare(
        `DELETE FROM webhook_deliveries WHERE job_id IN (
           SELECT job_id FROM webhook_deliveries
           WHERE state != 'pending' AND settled_at < ? ORDER BY settled_at LIMIT ?)`,
      ),
      get: db.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE job_id = ?'),
      setSecret: db.prepare("INSERT OR IGNORE INTO webhook_settings (key, value) VALUES ('secret', ?)"),
      secret: db.prepare<[], { value: string }>("SELECT value FROM webhook_settings WHERE key = 'secret'"),
    };
  }

  async addTarget(target: WebhookTarget, now: number): Promise<void> {
    this.q.addTarget.run(target.jobId, target.url, now);
  }

  async target(jobId: string): Promise<WebhookTarget | null> {
    const row = this.q.target.get(jobId);
    return row ? { jobId: row.job_id, url: row.url } : null;
  }

  async targets(limit: number, after: string | null): Promise<WebhookTarget[]> {
    return this.q.targets.all(after ?? '', limit).map((r) => ({ jobId: r.job_id, url: r.url }));
  }

  async dropTarget(jobId: string): Promise<void> {
    this.q.dropTarget.run(jobId);
  }

  async enqueue(d: NewDelivery): Promise<boolean> {
    return this.db.transaction(() => {
      const added = this.q.enqueue.run(d.jobId, d.msgId, d.url, d.payload, d.dueAt).changes === 1;
      this.q.dropTarget.run(d.jobId);
      return added;
    })();
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedDelivery[]> {
    return this.db.transaction(() =>
      this.q.due.all(now, limit).map((row) => {
        const token = randomBytes(12).toString('base64url');
        this.q.claim.run(leaseUntil, token, row.job_id);
        return { ...record(row), attempts: row.attempts + 1, dueAt: leaseUntil, token };
      }),
    )();
  }

  async complete(jobId: string, token: string, at: number): Promise<boolean> {
    return this.settle(jobId, token, 'delivered', null, null, at);
  }

  async retry(jobId: string, token: string, dueAt: number, error: string): Promise<boolean> {
    return this.settle(jobId, token, 'pending', dueAt, error, null);
  }

  async giveUp(jobId: string, token: string, error: string, at: number): Promise<boolean> {
    return this.settle(jobId, token, 'failed', null, error, at);
  }

  async prune(decidedBefore: number, limit: number): Promise<number> {
    return this.q.prune.run(decidedBefore, limit).changes;
  }

  private settle(
    jobId: string,
    token: string,
    state: DeliveryRecord['state'],
    dueAt: number | null,
    error: string | null,
    at: number | null,
  ): boolean {
    const params = { jobId, token, state, dueAt, error: error ? error.slice(0, 500) : null, at };
    return this.q.settle.run(params).changes === 1;
  }

  async get(jobId: string): Promise<DeliveryRecord | null> {
    const row = this.q.get.get(jobId);
    return row ? record(row) : null;
  }

  async secret(candidate: string): Promise<string> {
    this.q.setSecret.run(candidate);
    return this.q.secret.get()!.value;
  }
}
