/** The job-access contract (job-access.ts) on SQLite and on a real Redis. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { RedisJobAccess } from '../../src/access/redis-job-access';
import { SqliteJobAccess } from '../../src/access/sqlite-job-access';
import { DEFAULT_CONFIG } from '../../src/config';
import { connectRedis } from '../../src/redis/connection';
import { openRedisScheduling } from '../../src/store/redis';
import { SchedulerStore } from '../../src/store/sqlite';
import { openDatabase } from '../../src/storage/database';
import { startRedis, type TestRedis } from '../support/redis';
import { jobAccessContract } from './job-access';

jobAccessContract('sqlite', () => {
  const db = openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-access-')));
  const store = new SchedulerStore(db, DEFAULT_CONFIG);
  return Promise.resolve({
    access: new SqliteJobAccess(db, store.leases),
    store,
    settle: () => Promise.resolve(),
    close: () => {
      db.close();
      return Promise.resolve();
    },
  });
});

let server: TestRedis;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

jobAccessContract('redis', async () => {
  const redis = connectRedis(server.url, 'access-contract');
  await redis.flushall();
  const { store } = await openRedisScheduling(redis, DEFAULT_CONFIG, { gatewayId: 'gw-access' });
  return {
    access: new RedisJobAccess(redis),
    store,
    settle: () => store.settle(),
    close: async () => {
      await store.close(true);
      redis.disconnect();
    },
  };
});
