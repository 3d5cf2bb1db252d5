/**
 * The edge memory's contract (edge-memory.ts) on the one-process memory (SQLite mode) and on a
 * real Redis (a private redis-server, emptied before each test).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { LocalEdgeMemory } from '../../src/edges/local-edge-memory';
import { RedisEdgeMemory } from '../../src/edges/redis-edge-memory';
import { connectRedis } from '../../src/redis/connection';
import { startRedis, type TestRedis } from '../support/redis';
import { edgeMemoryContract, type OpenEdges } from './edge-memory';

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

const local: OpenEdges = () => {
  const memory = new LocalEdgeMemory();
  return Promise.resolve({ gateway: () => memory });
};

const redis: OpenEdges = async () => {
  const admin = new Redis(server.url);
  await admin.flushall();
  await admin.quit();
  return {
    gateway: () => {
      const client = connectRedis(server.url, 'edge-contract');
      clients.push(client);
      return new RedisEdgeMemory(client);
    },
  };
};

edgeMemoryContract('local', local);
edgeMemoryContract('redis', redis);
