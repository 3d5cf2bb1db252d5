/** The webhook queue contract against Redis (a real redis-server, AOF `appendfsync always`). */
import { afterAll, beforeAll } from 'vitest';
import { connectRedis } from '../../src/redis/connection';
import { RedisWebhookQueue } from '../../src/webhooks/redis-webhook-queue';
import { startRedis, type TestRedis } from '../support/redis';
import { describeWebhookQueue, type QueueUnderTest } from './webhook-queue.contract';

let server: TestRedis;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

let db = 0;

/** A gateway on its own logical database (each test starts empty). */
function gateway(index: number): QueueUnderTest {
  const connections = [connectRedis(`${server.url}/${index}`, 'hooks')];
  return {
    queue: new RedisWebhookQueue(connections[0]!),
    second: async () => {
      const conn = connectRedis(`${server.url}/${index}`, 'hooks-2');
      connections.push(conn);
      return new RedisWebhookQueue(conn);
    },
    restart: async () => {
      for (const c of connections) c.disconnect();
      return gateway(index);
    },
    close: async () => {
      for (const c of connections) c.disconnect();
    },
  };
}

describeWebhookQueue('Redis', async () => {
  const index = ++db % 16;
  const conn = connectRedis(`${server.url}/${index}`, 'flush');
  await conn.flushdb();
  conn.disconnect();
  return gateway(index);
});
