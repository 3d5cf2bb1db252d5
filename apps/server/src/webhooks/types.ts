/**
 * The webhook delivery queue (PROTOCOL.md W1–W12): one interface, kept in the store so that
 * deliveries survive a restart and several gateways share them. `SqliteWebhookQueue` (one
 * process) and `RedisWebhookQueue` (every gateway) both pass the contract suite in
 * `apps/server/test/webhooks/webhook-queue.contract.ts`.
 */

/** A job whose owner asked for an event and whose event is not decided yet (W2). */
export interface WebhookTarget {
  jobId: string;
  url: string;
}

/** Where a delivery is: waiting for its (next) attempt, delivered, or given up (W7). */
export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One job's event, as enqueued (W3): the body is fixed then, every attempt sends it unchanged. */
export interface NewDelivery {
  jobId: string;
  /** The Standard Webhooks `webhook-id`: the same on every attempt (receivers deduplicate on it). */
  msgId: string;
  url: string;
  /** The JSON body, as sent. */
  payload: string;
  /** First attempt due at (ms). */
  dueAt: number;
}

/** A stored delivery. */
export interface DeliveryRecord extends NewDelivery {
  state: DeliveryState;
  /** Attempts started so far (a claim is an attempt). */
  attempts: number;
  /** Why the last attempt failed, or null. */
  lastError: string | null;
}

/** A delivery claimed for one attempt: only the holder of `token` may record its outcome. */
export interface ClaimedDelivery extends DeliveryRecord {
  token: string;
}

/**
 * The delivery queue, asynchronous in both backends (SQLite's promises are settled when the
 * method returns; Redis' once the shared store has answered). Every method is safe to call from several gateways at once: a job's event
 * is enqueued once (`enqueue` returns false for the second), and a due attempt is claimed by one
 * caller (a lease: until `leaseUntil` nobody else can claim it; `complete`/`retry`/`giveUp` only
 * take effect for the claim's token).
 */
export interface WebhookQueue {
  /** Remembers a job's callback URL until its event is decided. A second call keeps the first URL. */
  addTarget(target: WebhookTarget, now: number): Promise<void>;
  /** The job's pending target, or null (none, or its event is decided already). */
  target(jobId: string): Promise<WebhookTarget | null>;
  /** Up to `limit` pending targets, oldest first, from `after` (a job id, exclusive) onwards. */
  targets(limit: number, after: string | null): Promise<WebhookTarget[]>;
  /** Forgets a pending target without an event (the job was deleted before it ended, W4). */
  dropTarget(jobId: string): Promise<void>;
  /**
   * The job's event, once: stores the delivery and forgets the pending target, atomically.
   * False when the job has a delivery already (it was enqueued by this or another gateway).
   */
  enqueue(delivery: NewDelivery): Promise<boolean>;
  /**
   * Claims up to `limit` deliveries due at `now`, each for one attempt: their attempt count grows
   * by one and nobody else can claim them before `leaseUntil`. A claim whose holder died is
   * claimed again once its lease has passed (that attempt is then sent again, W6).
   */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<ClaimedDelivery[]>;
  /**
   * The attempt succeeded (at `at`, when its retention starts). False when the claim was lost
   * (its lease passed and it was re-claimed).
   */
  complete(jobId: string, token: string, at: number): Promise<boolean>;
  /** The attempt failed: the next one is due at `dueAt`. False when the claim was lost. */
  retry(jobId: string, token: string, dueAt: number, error: string): Promise<boolean>;
  /** The attempt failed and was the last: the delivery is given up (at `at`). False when the claim was lost. */
  giveUp(jobId: string, token: string, error: string, at: number): Promise<boolean>;
  /**
   * Forgets up to `limit` decided deliveries (delivered or given up) decided before
   * `decidedBefore`; returns how many. A pending one is never pruned.
   */
  prune(decidedBefore: number, limit: number): Promise<number>;
  /** The job's delivery, or null. */
  get(jobId: string): Promise<DeliveryRecord | null>;
  /**
   * The signing secret kept in the store when `TABGRID_WEBHOOK_SECRET` is unset: the first
   * caller's `candidate` is stored, every caller gets what is stored.
   */
  secret(candidate: string): Promise<string>;
  /** A command an operator runs to read that stored secret (logged at start-up). */
  readonly secretLocation: string;
}
