/** The scheduling store contract against Redis (a real redis-server, AOF `appendfsync always`). */
import { afterAll, beforeAll } from 'vitest';
import { connectRedis } from '../../src/redis/connection';
import { openRedisScheduling } from '../../src/store/redis';
import { startRedis, type TestRedis } from '../support/redis';
import type { RetryPolicy } from '../../src/store/records';
import { describeSchedulingStore, POLICY, type StoreUnderTest } from './scheduling-store';

let server: TestRedis;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

let db = 0;

/** A gateway on its own logical database (each test starts empty). */
async function gateway(index: number, gatewayId: string, policy: RetryPolicy = POLICY) {
  const redis = connectRedis(`${server.url}/${index}`, 'contract');
  const { store, recovered } = await openRedisScheduling(redis, policy, { gatewayId, blockMs: 100 });
  const sut: StoreUnderTest & { recovered: { lapsed: number; queued: number } } = {
    store,
    recovered,
    settle: () => store.settle(),
    restart: async () => {
      await store.close(true); // as kill -9: nothing handed back, liveness left to expire
      redis.disconnect();
      return gateway(index, gatewayId, policy);
    },
    close: async () => {
      await store.close(true);
      redis.disconnect();
    },
  };
  return sut;
}

describeSchedulingStore('Redis', async (policy) => gateway(++db % 16, `gw-contract-${db}`, policy));
