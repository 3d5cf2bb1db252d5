/**
 * Webhooks, a room of its own (PROTOCOL.md W1–W12, docs/SECURITY.md "Webhooks"): a job created
 * with a `callbackUrl` gets one signed Standard Webhooks event when it ends. The delivery queue
 * lives in the store (`SqliteWebhookQueue`, `RedisWebhookQueue`); the dispatcher sees jobs end
 * and sends; `sender.ts` refuses private addresses at connect time. The server's hooks into it:
 * `accept`/`register` in the upload route, `taskChanged` beside the live hub's, `start`/`close`.
 */
import { TabgridError, type JobView } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ServerConfig } from '../config';
import type { ErrorSink } from '../observability/error-sink';
import { DEFAULT_RETRY } from './backoff';
import { checkCallbackUrl } from './callback-url';
import { WebhookDispatcher } from './dispatcher';
import { newWebhookSecret, WebhookSigner } from './signer';
import type { DeliveryRecord, WebhookQueue } from './types';
import { WebhookMetrics } from './webhook-metrics';

export { SqliteWebhookQueue } from './sqlite-webhook-queue';
export { RedisWebhookQueue } from './redis-webhook-queue';
export type { WebhookQueue } from './types';

export type WebhookConfig = Pick<
  ServerConfig,
  | 'webhookSecret'
  | 'webhookAllowPrivate'
  | 'webhookRetryMs'
  | 'webhookMaxAttempts'
  | 'webhookTimeoutMs'
  | 'webhookPollMs'
  | 'webhookSweepMs'
  | 'webhookRetentionMs'
>;

export interface Webhooks {
  /** Checks a `callbackUrl` form field (W1, W9): the normalized URL, or a 400 TabgridError. */
  accept(raw: string): Promise<string>;
  /** Remembers the callback of a job just stored (W2). */
  register(jobId: string, url: string): Promise<void>;
  /** A task changed: when it is final, its job is checked for its end. */
  taskChanged(task: { jobId: string; status: string }): void;
  /** The job's delivery (state, attempts, last error), or null. */
  delivery(jobId: string): Promise<DeliveryRecord | null>;
  dispatcher: WebhookDispatcher;
  start(): void;
  close(): Promise<void>;
}

export interface WebhookDeps {
  queue: WebhookQueue;
  jobView: (jobId: string) => Promise<JobView | null>;
  /** True when the job was deleted by its owner, or does not exist. */
  jobGone: (jobId: string) => Promise<boolean>;
  errors: ErrorSink;
  registry: Registry;
  log: FastifyBaseLogger;
  now: () => number;
}

/**
 * Sets up webhooks on the backend's queue: the signing secret (`TABGRID_WEBHOOK_SECRET`, else one
 * generated once and kept in the store, W5) and the dispatcher (not started).
 */
export async function openWebhooks(config: WebhookConfig, deps: WebhookDeps): Promise<Webhooks> {
  let secret = config.webhookSecret;
  if (secret === null) {
    const candidate = newWebhookSecret();
    secret = await deps.queue.secret(candidate);
    deps.log.info(
      { read: deps.queue.secretLocation, generated: secret === candidate },
      'webhook signing secret kept in the store (TABGRID_WEBHOOK_SECRET is unset); give it to requesters who verify events',
    );
  }
  const dispatcher = new WebhookDispatcher(
    {
      queue: deps.queue,
      jobView: deps.jobView,
      jobGone: deps.jobGone,
      signer: new WebhookSigner(secret),
      errors: deps.errors,
      metrics: new WebhookMetrics(deps.registry),
      log: deps.log,
      now: deps.now,
    },
    {
      retry: { ...DEFAULT_RETRY, baseMs: config.webhookRetryMs, maxAttempts: config.webhookMaxAttempts },
      timeoutMs: config.webhookTimeoutMs,
      allowPrivate: config.webhookAllowPrivate,
      pollMs: config.webhookPollMs,
      sweepMs: config.webhookSweepMs,
      concurrency: 8,
      retentionMs: config.webhookRetentionMs,
    },
  );
  return {
    accept: (raw) => checkCallbackUrl(raw, { allowPrivate: config.webhookAllowPrivate }),
    async register(jobId, url) {
      try {
        await deps.queue.addTarget({ jobId, url }, deps.now());
      } catch (err) {
        // The job is stored already (W1): say so, with what to do, instead of a bare 500.
        deps.errors.report('webhooks.register', err, { jobId });
        throw new TabgridError(
          'storage_unavailable',
          `job ${jobId} was stored but its callbackUrl could not be; delete it (DELETE /api/jobs/${jobId}) and upload again in 5 s`,
          503,
        );
      }
      dispatcher.taskChanged(jobId); // a job could end before this line (tiny jobs, fast volunteers)
    },
    taskChanged(task) {
      if (task.status === 'done' || task.status === 'failed') dispatcher.taskChanged(task.jobId);
    },
    delivery: (jobId) => deps.queue.get(jobId),
    dispatcher,
    start: () => dispatcher.start(),
    close: () => dispatcher.stop(),
  };
}
