/**
 * The state-store contracts (state-contracts.ts) on SQLite and on a real Redis (a private
 * redis-server, AOF always). Each test gets an empty store: a new database file, or a Redis
 * emptied with FLUSHALL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RedisKeyBackend } from '../../src/access/redis-key-backend';
import { SqliteKeyBackend } from '../../src/access/sqlite-key-backend';
import { RedisIdentityBackend } from '../../src/identity/redis-identity-backend';
import { SqliteIdentityBackend } from '../../src/identity/sqlite-identity-backend';
import { connectRedis } from '../../src/redis/connection';
import { openDatabase, type Db } from '../../src/storage/database';
import { RedisReputationStore } from '../../src/verification/redis-reputation-store';
import { SqliteReputationStore } from '../../src/verification/sqlite-reputation-store';
import { startRedis, type TestRedis } from '../support/redis';
import { apiKeyContract, identityContract, reputationContract, type OpenState } from './state-contracts';

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

const sqlite: OpenState = () => {
  const db = openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-state-')));
  dbs.push(db);
  return Promise.resolve({
    gateway: () => ({
      identities: new SqliteIdentityBackend(db),
      keys: new SqliteKeyBackend(db),
      reputations: new SqliteReputationStore(db),
    }),
  });
};

let server: TestRedis;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.quit()));
});
afterAll(async () => {
  await server?.stop();
});

const redis: OpenState = async () => {
  const admin = new Redis(server.url);
  await admin.flushall();
  await admin.quit();
  return {
    gateway: () => {
      // One connection per gateway, as in production.
      const client = connectRedis(server.url, 'contract');
      clients.push(client);
      return {
        identities: new RedisIdentityBackend(client),
        keys: new RedisKeyBackend(client),
        reputations: new RedisReputationStore(client, (err) => {
          throw err;
        }),
      };
    },
  };
};

for (const [name, open] of [
  ['sqlite', sqlite],
  ['redis', redis],
] as const) {
  identityContract(name, open);
  apiKeyContract(name, open);
  reputationContract(name, open);
}
