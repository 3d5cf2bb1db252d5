import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';

/**
 * The image-signing secret every gateway shares in Redis mode (a URL signed by one gateway
 * opens on any): the first gateway to start stores 32 random bytes with `SET NX`, every
 * gateway then reads what is stored. Deleting the key invalidates every signed URL.
 */
export async function loadRedisSecret(redis: Redis): Promise<Buffer> {
  await redis.set(redisKeys.imageSecret, randomBytes(32).toString('hex'), 'NX');
  const stored = await redis.get(redisKeys.imageSecret);
  if (!stored || stored.length < 64) throw new Error(`${redisKeys.imageSecret} holds no usable secret`);
  return Buffer.from(stored, 'hex');
}
