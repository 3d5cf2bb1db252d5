/**
 * The Redis reputation store's memory is bounded (issue 16): at most `kept` records, the least
 * recently used forgotten first and read again from Redis; the bookkeeping of reads racing puts
 * lives only while a read is in flight.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NEW_REPUTATION } from '../src/verification/reputation';
import { RedisReputationStore } from '../src/verification/redis-reputation-store';
import { startRedis, type TestRedis } from './support/redis';

let server: TestRedis;
let client: Redis;
beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
});
afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

const until = async (check: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

it('holds at most `kept` records; a forgotten one is read back from Redis', async () => {
  const store = new RedisReputationStore(
    client,
    (err) => {
      throw err;
    },
    { kept: 3 },
  );
  const ids = Array.from({ length: 10 }, (_, i) => `v_bound${i}`);
  ids.forEach((id, i) => store.put(id, { ...NEW_REPUTATION, streak: i + 1, verified: i + 1 }));
  expect(store.held).toEqual({ records: 3, reads: 0 });
  await store.flush();
  // The first one was forgotten: answered as new once, and read back in the background.
  expect(store.get(ids[0]!)).toEqual(NEW_REPUTATION);
  expect(store.held.reads).toBe(1);
  await until(() => store.get(ids[0]!).verified === 1);
  expect(store.held).toEqual({ records: 3, reads: 0 });
  // Handshakes of every volunteer: still three records, and no bookkeeping left behind.
  await Promise.all(ids.map((id) => store.warm(id)));
  expect(store.held).toEqual({ records: 3, reads: 0 });
  expect(store.get(ids[9]!)).toMatchObject({ verified: 10 });
});

it('a put made while a read is in flight is newer and is kept', async () => {
  const store = new RedisReputationStore(client, (err) => {
    throw err;
  });
  await client.hset('tg:reputation:v_race', {
    streak: 1,
    verified: 1,
    invalid: 0,
    trustedAt: '',
    quarantinedAt: '',
  });
  // Redis holds every command for a moment: the read is sent, then the put comes.
  const admin = new Redis(server.url);
  await admin.client('PAUSE', 300, 'ALL');
  const warming = store.warm('v_race');
  await new Promise((r) => setImmediate(r));
  const caught = { streak: 0, verified: 1, invalid: 1, canaries: 0, trustedAt: null, quarantinedAt: 9000 };
  store.put('v_race', caught);
  await warming;
  expect(store.get('v_race')).toEqual(caught);
  expect(store.held.reads).toBe(0);
  await admin.quit();
});
