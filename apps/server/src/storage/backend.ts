/**
 * The one place that picks where state lives, once, at start-up (`config.redisUrl`):
 *
 * - **SQLite** (default, zero setup): everything in `<dataDir>/tabgrid.db`, blobs in
 *   `<dataDir>/images`.
 * - **Redis** (`TABGRID_REDIS_URL`): jobs, tasks and results (the scheduling store: a stream
 *   with a consumer per gateway), job ownership, identities, reputation, API keys and the
 *   image-signing secret in Redis, shared by every gateway process; no SQLite at all. Blobs in
 *   `TABGRID_BLOB_DIR` (a directory every gateway mounts). Redis must persist every write
 *   (`checkDurability`).
 *
 * Nothing outside this file and the stores' own implementations asks which backend runs, except
 * `fanout/index.ts`, which picks the `/live` fan-out from the same `redisUrl`.
 * The credit ledger is one more member of the bundle, and so is the edge defences' memory.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { loadSecret } from '../access/image-signer';
import type { JobAccess } from '../access/job-access';
import type { KeyBackend } from '../access/key-backend';
import { RedisJobAccess } from '../access/redis-job-access';
import { RedisKeyBackend } from '../access/redis-key-backend';
import { creditPolicyFor, RedisLedgerStore, SqliteLedgerStore, type LedgerStore } from '../ledger';
import { recoverLedger } from '../ledger/sqlite-ledger-recovery';
import { loadRedisSecret } from '../access/redis-secret';
import { SqliteJobAccess } from '../access/sqlite-job-access';
import { SqliteKeyBackend } from '../access/sqlite-key-backend';
import type { ServerConfig } from '../config';
import type { EdgeMemory } from '../edges/edge-memory';
import { LocalEdgeMemory } from '../edges/local-edge-memory';
import { RedisEdgeMemory } from '../edges/redis-edge-memory';
import type { IdentityBackend } from '../identity/identity-backend';
import { RedisIdentityBackend } from '../identity/redis-identity-backend';
import { SqliteIdentityBackend } from '../identity/sqlite-identity-backend';
import type { DependencyProbe } from '../observability/health';
import { connectRedis } from '../redis/connection';
import { checkDurability, type DurabilityReport } from '../redis/durability';
import { redisProbe } from '../redis/redis-probe';
import { openRedisScheduling } from '../store/redis';
import type { SchedulingStore } from '../store/scheduling-store';
import { SchedulerStore } from '../store/sqlite';
import type { AssignmentRecord, TaskRecord } from '../store/records';
import { RedisReputationStore } from '../verification/redis-reputation-store';
import type { ReputationStore } from '../verification/reputation-store';
import { SqliteReputationStore } from '../verification/sqlite-reputation-store';
import { RedisWebhookQueue, SqliteWebhookQueue, type WebhookQueue } from '../webhooks'; // webhooks hook
import { DirectoryBlobStore, type BlobStore, type BlobWriter } from './blob-store';
import { openDatabase } from './database';
import { databaseProbe } from './probes';

export type BackendKind = 'sqlite' | 'redis';

/** Everything stateful a gateway uses, from one backend. */
export interface StorageBackend {
  kind: BackendKind;
  /** This process's name among gateways (`TABGRID_GATEWAY_ID`, else random per start). */
  gatewayId: string;
  /** Jobs, tasks, leases and results. Recovered already (see `recovered`). */
  scheduling: SchedulingStore;
  /** How the start-up recovery went: leases treated as lapsed, tasks queued, ledger entries rebuilt (SQLite). */
  recovered: { lapsed: number; queued: number; ledgerEntries?: number };
  /** The health probe whose failure means "the store is down" (`database` or `redis`). */
  storeProbe: string;
  /** Calls `listener` when tasks become available to dispatch here (claimed from Redis). */
  onWorkAvailable(listener: () => void): void;
  /**
   * Calls `listener` when a job cancelled on another gateway had tasks here (Redis mode): they
   * are failed already; its leases must be taken back from their volunteers.
   */
  onJobCancelledElsewhere(
    listener: (ended: { jobId: string; tasks: TaskRecord[]; leases: AssignmentRecord[] }) => void,
  ): void;
  identities: IdentityBackend;
  keys: KeyBackend;
  reputations: ReputationStore;
  /**
   * What the edge defences remember (identity quota, failed sign-ins, penalized networks, the
   * networks that lost each task): this process's memory, or Redis shared by every gateway.
   */
  edges: EdgeMemory;
  jobAccess: JobAccess;
  /** The credit ledger (apps/server/src/ledger). */
  ledger: LedgerStore;
  /** The webhook delivery queue (apps/server/src/webhooks). */
  webhooks: WebhookQueue;
  blobs: BlobStore;
  /** The image-signing secret (shared by every gateway in Redis mode). */
  secret: Buffer;
  /** Dependency probes for the health monitor (`database`, and `redis` in Redis mode). */
  probes: DependencyProbe[];
  /** Redis durability as found at start (null in SQLite mode). */
  durability: DurabilityReport | null;
  /** Closes every connection and the database. */
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Writes new blobs' bytes (test seam). */
  blobWriter?: BlobWriter;
  /** Where background store failures go (the server's ErrorSink, bound later). */
  report: (where: string, err: unknown) => void;
  /** Loud start-up warnings (unsafe Redis durability). */
  warn: (message: string) => void;
  /**
   * How many unfinished tasks this gateway wants to hold (Redis mode: claims are sized to it).
   * Read on every claim, so it may be bound after the scheduler exists. @defaultValue none
   */
  demand?: () => number;
  /** The time recovery uses. @defaultValue Date.now() */
  now?: number;
}

/** `TABGRID_GATEWAY_ID`, else `gw-` + 6 random bytes. */
export const gatewayIdOf = (config: Pick<ServerConfig, 'gatewayId'>): string =>
  config.gatewayId ?? `gw-${randomBytes(6).toString('hex')}`;

/**
 * Opens the backend `config` asks for.
 *
 * @example const backend = await openBackend(config, { report: () => {}, warn: console.warn });
 */
export async function openBackend(config: ServerConfig, options: BackendOptions): Promise<StorageBackend> {
  const gatewayId = gatewayIdOf(config);
  const now = options.now ?? Date.now();
  fs.mkdirSync(config.dataDir, { recursive: true });
  if (config.blobDir) fs.mkdirSync(config.blobDir, { recursive: true });
  const blobs = new DirectoryBlobStore(
    config.blobDir ?? path.join(config.dataDir, 'images'),
    options.blobWriter,
  );
  if (config.redisUrl === null) {
    const db = openDatabase(config.dataDir, config.dbBusyTimeoutMs);
    const dbProbe = databaseProbe(config.dataDir);
    const scheduling = new SchedulerStore(db, config);
    const creditPolicy = creditPolicyFor(config.maxAssignmentMs);
    // The ledger's batches join the scheduling store's group commit: one commit per turn for both.
    const ledger = new SqliteLedgerStore(db, creditPolicy, (fn) => scheduling.staged([], fn));
    // Entries still queued in the credit keeper when the process died (it writes once per turn).
    const ledgerRecovered = await recoverLedger(db, ledger, creditPolicy, config.verification);
    return {
      kind: 'sqlite',
      gatewayId,
      scheduling,
      recovered: { ...scheduling.recover(now), ledgerEntries: ledgerRecovered },
      storeProbe: dbProbe.name,
      onWorkAvailable: () => undefined, // the scheduler pumps after each upload itself
      onJobCancelledElsewhere: () => undefined, // one process: every cancel is local
      jobAccess: new SqliteJobAccess(db, scheduling.leases),
      ledger,
      webhooks: new SqliteWebhookQueue(db), // webhooks hook
      blobs,
      identities: new SqliteIdentityBackend(db),
      keys: new SqliteKeyBackend(db),
      reputations: new SqliteReputationStore(db),
      edges: new LocalEdgeMemory(),
      secret: loadSecret(config.dataDir),
      probes: [dbProbe],
      durability: null,
      close: () => {
        scheduling.group.flush(); // results staged in this turn: committed before the database closes
        dbProbe.close();
        db.close();
        return Promise.resolve();
      },
    };
  }

  const redisUrl = config.redisUrl;
  const connect = (purpose: string, extra: Parameters<typeof connectRedis>[2] = {}) => {
    const conn = connectRedis(redisUrl, `${gatewayId}:${purpose}`, extra);
    // ioredis emits 'error' on every failed reconnect; unheard, Node would throw it.
    conn.on('error', (err) => options.report(`redis.${purpose}`, err));
    return conn;
  };
  const redis = connect('commands', { commandTimeout: config.redisCommandTimeoutMs });
  const schedulingConn = connect('scheduling', { commandTimeout: config.redisCommandTimeoutMs });
  // The probe's own connection fails at once while Redis is away instead of queueing.
  const probeConn = connectRedis(redisUrl, `${gatewayId}:health`, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  probeConn.on('error', () => undefined); // the probe itself reports the outage
  const connections = [redis, schedulingConn, probeConn];
  const closeConnections = () => Promise.all(connections.map((c) => quit(c)));
  let opened: Awaited<ReturnType<typeof openRedisScheduling>> | null = null;
  try {
    const durability = await checkDurability(redis, config.redisAllowUnsafeFsync, options.warn);
    const secret = await loadRedisSecret(redis);
    opened = await openRedisScheduling(
      schedulingConn,
      config,
      { gatewayId, ...(options.demand ? { demand: options.demand } : {}), onError: options.report },
      now,
    );
    const store = opened.store;
    return {
      kind: 'redis',
      gatewayId,
      scheduling: store,
      recovered: opened.recovered,
      storeProbe: 'redis',
      onWorkAvailable: (listener) => store.onTasksAvailable(listener),
      onJobCancelledElsewhere: (listener) => store.onJobCancelled(listener),
      jobAccess: new RedisJobAccess(redis),
      ledger: new RedisLedgerStore(redis, creditPolicyFor(config.maxAssignmentMs)),
      webhooks: new RedisWebhookQueue(redis), // webhooks hook
      blobs,
      identities: new RedisIdentityBackend(redis),
      keys: new RedisKeyBackend(redis),
      reputations: new RedisReputationStore(redis, (err) => options.report('redis.reputation', err)),
      edges: new RedisEdgeMemory(redis),
      secret,
      probes: [redisProbe(probeConn, gatewayId, Math.min(1000, config.redisCommandTimeoutMs))],
      durability,
      async close() {
        // Queued tasks go back to the stream and pending writes are flushed first.
        await store.close().catch((err: unknown) => options.report('redis.close', err));
        await closeConnections();
      },
    };
  } catch (err) {
    await opened?.store.close(true).catch(() => undefined);
    await closeConnections();
    throw err;
  }
}

/** `QUIT` (pending replies first), or drop the connection when Redis is not answering. */
async function quit(conn: Redis): Promise<void> {
  if (conn.status === 'end') return;
  try {
    await Promise.race([
      conn.quit(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('quit timed out')), 1000).unref()),
    ]);
  } catch {
    conn.disconnect();
  }
}
