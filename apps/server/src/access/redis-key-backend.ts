import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';
import type { KeyBackend, StoredKey } from './key-backend';

/** Creates the name entry and the hash entry together, or neither when the name exists. */
const INSERT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1`;

/** Deletes both entries of a name; 0 when there was none. */
const REMOVE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', ARGV[2] .. string.sub(v, 1, 64))
return 1`;

/**
 * API keys in Redis: `tg:{apikeys}:by-name` (hash name → `<sha256>:<createdAt>`) and
 * `tg:{apikeys}:sha256:<hex>` → name, kept consistent by Lua scripts (one hash tag, so one
 * Cluster slot: a few hundred keys at most). Every gateway sees a key the moment it exists.
 */
export class RedisKeyBackend implements KeyBackend {
  constructor(private readonly redis: Redis) {}

  nameOf(sha256: string): Promise<string | null> {
    return this.redis.get(redisKeys.apiKeyByHash(sha256));
  }

  async insert(name: string, sha256: string, createdAt: number): Promise<boolean> {
    const done = await this.redis.eval(
      INSERT,
      2,
      redisKeys.apiKeysByName,
      redisKeys.apiKeyByHash(sha256),
      name,
      sha256,
      String(createdAt),
    );
    return done === 1;
  }

  async list(): Promise<StoredKey[]> {
    const all = await this.redis.hgetall(redisKeys.apiKeysByName);
    return Object.entries(all)
      .map(([name, v]) => ({ name, createdAt: Number(v.slice(65)) }))
      .sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async remove(name: string): Promise<boolean> {
    // The hash entry's key is derived in the script (from the stored sha256): declared keys
    // would need the sha256 first. Both share the `{apikeys}` tag, so one Cluster slot.
    const done = await this.redis.eval(REMOVE, 1, redisKeys.apiKeysByName, name, redisKeys.apiKeyByHash(''));
    return done === 1;
  }

  count(): Promise<number> {
    return this.redis.hlen(redisKeys.apiKeysByName);
  }
}
