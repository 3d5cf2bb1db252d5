/**
 * The Redis side of the backend factory against real redis-servers: the durability check at
 * start, the shared image-signing secret, the `redis` health probe while Redis is killed and
 * restarted, and a clean close.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type ServerConfig } from '../src/config';
import { loadRedisSecret } from '../src/access/redis-secret';
import { connectRedis } from '../src/redis/connection';
import { UnsafeRedisDurabilityError } from '../src/redis/durability';
import { isRedisUnavailable } from '../src/redis/errors';
import { redisKeys } from '../src/redis/keys';
import { openBackend } from '../src/storage/backend';
import { classifyStorageError } from '../src/storage/storage-errors';
import { startRedis, type TestRedis } from './support/redis';

const quiet = { report: () => undefined, warn: () => undefined };
const configFor = (redisUrl: string, extra: Partial<ServerConfig> = {}): ServerConfig => ({
  ...DEFAULT_CONFIG,
  dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-rb-')),
  redisUrl,
  ...extra,
});

describe('Redis durability check at start', () => {
  let everysec: TestRedis;
  beforeAll(async () => {
    everysec = await startRedis({ appendfsync: 'everysec' });
  });
  afterAll(async () => {
    await everysec?.stop();
  });

  it('refuses to start on appendfsync everysec, naming the fix and the override', async () => {
    const err = await openBackend(configFor(everysec.url), quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeRedisDurabilityError);
    expect((err as Error).message).toMatch(/appendfsync everysec/);
    expect((err as Error).message).toMatch(/TABGRID_REDIS_ALLOW_UNSAFE_FSYNC=1/);
  });

  it('starts with a loud warning when the operator allows it', async () => {
    const warnings: string[] = [];
    const backend = await openBackend(configFor(everysec.url, { redisAllowUnsafeFsync: true }), {
      report: () => undefined,
      warn: (m) => warnings.push(m),
    });
    expect(backend.kind).toBe('redis');
    expect(backend.durability).toMatchObject({ appendonly: 'yes', appendfsync: 'everysec', safe: false });
    expect(warnings.join('\n')).toMatch(/could be lost/);
    await backend.close();
  });
});

describe('Redis backend', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('every gateway gets the same image-signing secret, stored once', async () => {
    const a = connectRedis(redis.url, 'a');
    const b = connectRedis(redis.url, 'b');
    const [sa, sb] = await Promise.all([loadRedisSecret(a), loadRedisSecret(b)]);
    expect(sa.length).toBe(32);
    expect(sa.equals(sb)).toBe(true);
    const one = await openBackend(configFor(redis.url, { gatewayId: 'gw-one' }), quiet);
    const two = await openBackend(configFor(redis.url), quiet);
    expect(one.secret.equals(sa)).toBe(true);
    expect(two.secret.equals(sa)).toBe(true);
    expect(one.gatewayId).toBe('gw-one');
    expect(two.gatewayId).toMatch(/^gw-[0-9a-f]{12}$/);
    expect(one.durability).toMatchObject({ safe: true });
    await Promise.all([one.close(), two.close(), a.quit(), b.quit()]);
  });

  it('the redis probe fails while Redis is killed and passes again after a restart; close ends every connection', async () => {
    const backend = await openBackend(configFor(redis.url, { gatewayId: 'gw-probe' }), quiet);
    const probe = backend.probes.find((p) => p.name === 'redis')!;
    expect(probe.gatesDispatch).toBe(true);
    await probe.check();
    const admin = new Redis(redis.url);
    expect(await admin.get(redisKeys.healthProbe('gw-probe'))).toMatch(/^\d+$/);
    await admin.quit();

    await redis.kill9();
    const started = Date.now();
    const err = await Promise.resolve(probe.check()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isRedisUnavailable(err)).toBe(true);
    expect(classifyStorageError(err)).toBe('unavailable');
    console.log(`redis probe failed ${Date.now() - started} ms after kill -9`);

    await redis.restart();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.check();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const lister = new Redis(redis.url);
    expect(String(await lister.client('LIST'))).toContain('tabgrid:gw-probe:commands');
    await backend.close();
    const after = String(await lister.client('LIST'));
    await lister.quit();
    expect(after).not.toContain('gw-probe');
  });
});
