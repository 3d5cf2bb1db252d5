/**
 * The one place that picks where state lives, once, at start-up (`config.redisUrl`):
 *
 * - **SQLite** (default, zero setup): everything in `<dataDir>/tabgrid.db`, blobs in
 *   `<dataDir>/images`.
 * - **Redis** (`TABGRID_REDIS_URL`): identities, reputation, API keys and the image-signing
 *   secret in Redis, shared by every gateway process; blobs in `TABGRID_BLOB_DIR` (a directory
 *   every gateway mounts). Redis must persist every write (`checkDurability`).
 *
 * Nothing outside this file and the stores' own implementations asks which backend runs.
 * The credit ledger (`ledger` branch) plugs in as one more member of the bundle.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { loadSecret } from '../access/image-signer';
import type { KeyBackend } from '../access/key-backend';
import type { JobAccess } from '../access/job-access';
import { SqliteJobAccess } from '../access/sqlite-job-access';
import { RedisKeyBackend } from '../access/redis-key-backend';
import { loadRedisSecret } from '../access/redis-secret';
import { SqliteKeyBackend } from '../access/sqlite-key-backend';
import type { ServerConfig } from '../config';
import type { IdentityBackend } from '../identity/identity-backend';
import { RedisIdentityBackend } from '../identity/redis-identity-backend';
import { SqliteIdentityBackend } from '../identity/sqlite-identity-backend';
import type { DependencyProbe } from '../observability/health';
import { connectRedis } from '../redis/connection';
import { checkDurability, type DurabilityReport } from '../redis/durability';
import { redisProbe } from '../redis/redis-probe';
import { SchedulerStore } from '../scheduling/store';
import { RedisReputationStore } from '../verification/redis-reputation-store';
import type { ReputationStore } from '../verification/reputation-store';
import { SqliteReputationStore } from '../verification/sqlite-reputation-store';
import { DirectoryBlobStore, type BlobStore, type BlobWriter } from './blob-store';
import { openDatabase, type Db } from './database';
import { databaseProbe } from './probes';

export type BackendKind = 'sqlite' | 'redis';

/** Everything stateful a gateway uses, from one backend. */
export interface StorageBackend {
  kind: BackendKind;
  /** This process's name among gateways (`TABGRID_GATEWAY_ID`, else random per start). */
  gatewayId: string;
  /**
   * The SQLite database in `dataDir`. Holds the scheduling store in both modes until the
   * Redis scheduling store (rstore) is wired in here.
   */
  db: Db;
  scheduling: SchedulerStore;
  identities: IdentityBackend;
  keys: KeyBackend;
  reputations: ReputationStore;
  jobAccess: JobAccess;
  /** Slot for the credit ledger (SQLite and Redis implementations on the `ledger` branch). */
  ledger: null;
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
  const db = openDatabase(config.dataDir, config.dbBusyTimeoutMs);
  const dbProbe = databaseProbe(config.dataDir);
  const blobs = new DirectoryBlobStore(
    config.blobDir ?? path.join(config.dataDir, 'images'),
    options.blobWriter,
  );
  const local = {
    gatewayId,
    db,
    scheduling: new SchedulerStore(db, config),
    jobAccess: new SqliteJobAccess(db),
    ledger: null,
    blobs,
  };
  const closeSqlite = () => {
    dbProbe.close();
    db.close();
  };
  if (config.redisUrl === null) {
    return {
      kind: 'sqlite',
      ...local,
      identities: new SqliteIdentityBackend(db),
      keys: new SqliteKeyBackend(db),
      reputations: new SqliteReputationStore(db),
      secret: loadSecret(config.dataDir),
      probes: [dbProbe],
      durability: null,
      close: () => Promise.resolve(closeSqlite()),
    };
  }

  const redis = connectRedis(config.redisUrl, `${gatewayId}:commands`, {
    commandTimeout: config.redisCommandTimeoutMs,
  });
  // The probe's own connection fails at once while Redis is away instead of queueing.
  const probeConn = connectRedis(config.redisUrl, `${gatewayId}:health`, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  // ioredis emits 'error' on every failed reconnect; unheard, Node would throw it.
  redis.on('error', (err) => options.report('redis.connection', err));
  probeConn.on('error', () => undefined);
  const closeRedis = async () => {
    await Promise.all([redis, probeConn].map((c) => quit(c)));
  };
  try {
    const durability = await checkDurability(redis, config.redisAllowUnsafeFsync, options.warn);
    const secret = await loadRedisSecret(redis);
    return {
      kind: 'redis',
      ...local,
      identities: new RedisIdentityBackend(redis),
      keys: new RedisKeyBackend(redis),
      reputations: new RedisReputationStore(redis, (err) => options.report('redis.reputation', err)),
      secret,
      probes: [dbProbe, redisProbe(probeConn, gatewayId, Math.min(1000, config.redisCommandTimeoutMs))],
      durability,
      async close() {
        await closeRedis();
        closeSqlite();
      },
    };
  } catch (err) {
    await closeRedis();
    closeSqlite();
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
