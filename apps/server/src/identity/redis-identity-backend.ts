import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';
import type { IdentityBackend, IdentityRow } from './identity-backend';

/**
 * Volunteer identities in Redis: a hash per identity (`tg:volunteer:<id>`: token hash, name,
 * times) and a string per taken display name (`tg:volunteer-name:<name>` → id, `SET NX`).
 * Single-key commands only, so it works on Redis Cluster unchanged. The name is reserved
 * before the identity is written: a crash in between leaves an unused reserved name, never
 * two identities with one name.
 */
export class RedisIdentityBackend implements IdentityBackend {
  constructor(private readonly redis: Redis) {}

  async get(volunteerId: string): Promise<IdentityRow | null> {
    const h = await this.redis.hgetall(redisKeys.volunteer(volunteerId));
    if (!h.token || !h.name) return null;
    return {
      volunteerId,
      tokenSha256: Buffer.from(h.token, 'hex'),
      displayName: h.name,
      createdAt: Number(h.created),
    };
  }

  async insert(row: IdentityRow, ttlMs?: number): Promise<boolean> {
    const nameKey = redisKeys.volunteerName(row.displayName);
    const taken = ttlMs
      ? await this.redis.set(nameKey, row.volunteerId, 'PX', ttlMs, 'NX')
      : await this.redis.set(nameKey, row.volunteerId, 'NX');
    if (taken !== 'OK') return false;
    const key = redisKeys.volunteer(row.volunteerId);
    await this.redis.hset(key, {
      token: row.tokenSha256.toString('hex'),
      name: row.displayName,
      created: row.createdAt,
      seen: row.createdAt,
    });
    if (ttlMs) await this.redis.pexpire(key, ttlMs);
    return true;
  }

  async keep(volunteerId: string): Promise<void> {
    const key = redisKeys.volunteer(volunteerId);
    const name = await this.redis.hget(key, 'name');
    await this.redis.persist(key);
    if (name) await this.redis.persist(redisKeys.volunteerName(name));
  }

  expire(): Promise<number> {
    return Promise.resolve(0); // the keys of an identity nobody kept expire by themselves
  }

  async touch(volunteerId: string, now: number): Promise<void> {
    await this.redis.hset(redisKeys.volunteer(volunteerId), 'seen', now);
  }
}
