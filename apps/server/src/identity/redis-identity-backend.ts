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

  async insert(row: IdentityRow): Promise<boolean> {
    const taken = await this.redis.set(redisKeys.volunteerName(row.displayName), row.volunteerId, 'NX');
    if (taken !== 'OK') return false;
    await this.redis.hset(redisKeys.volunteer(row.volunteerId), {
      token: row.tokenSha256.toString('hex'),
      name: row.displayName,
      created: row.createdAt,
      seen: row.createdAt,
    });
    return true;
  }

  async touch(volunteerId: string, now: number): Promise<void> {
    await this.redis.hset(redisKeys.volunteer(volunteerId), 'seen', now);
  }
}
