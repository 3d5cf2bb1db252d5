import type { Redis } from 'ioredis';
import { redisKeys } from '../redis/keys';
import { NEW_REPUTATION, type Reputation } from './reputation';
import type { ReputationStore } from './reputation-store';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));

/**
 * Reputation in Redis (`tg:reputation:<volunteerId>`, a hash), served from memory. The
 * handshake awaits `warm` so a volunteer's record is (re)loaded before it can be sent work;
 * `put` updates memory at once and writes behind (one `HSET`, pipelined by ioredis; a
 * failed write goes to `onError` and is retried with the next `put` of that volunteer,
 * which carries the whole record). Quarantine is a one-way door, so the stored record is
 * only ever replaced by a later state of the same volunteer.
 */
export class RedisReputationStore implements ReputationStore {
  private readonly cache = new Map<string, Reputation>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Puts per volunteer so far (a read started before the latest put is older than memory). */
  private readonly puts = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  get(volunteerId: string): Reputation {
    return this.cache.get(volunteerId) ?? NEW_REPUTATION;
  }

  put(volunteerId: string, r: Reputation): void {
    this.cache.set(volunteerId, r);
    this.puts.set(volunteerId, (this.puts.get(volunteerId) ?? 0) + 1);
    const write = this.redis
      .hset(redisKeys.reputation(volunteerId), {
        streak: r.streak,
        verified: r.verified,
        invalid: r.invalid,
        trustedAt: r.trustedAt ?? '',
        quarantinedAt: r.quarantinedAt ?? '',
      })
      .catch(this.onError);
    this.inflight.add(write);
    void write.finally(() => this.inflight.delete(write));
  }

  /**
   * Read again at every handshake, even when held in memory: the volunteer may have worked on
   * another gateway since, and been quarantined there (a one-way door on every gateway). This
   * gateway's own writes land first; a `put` during the read is newer and is kept.
   */
  async warm(volunteerId: string): Promise<void> {
    await this.flush();
    const puts = this.puts.get(volunteerId) ?? 0;
    const h = await this.redis.hgetall(redisKeys.reputation(volunteerId));
    if ((this.puts.get(volunteerId) ?? 0) !== puts) return; // a put won the race: it is newer
    this.cache.set(
      volunteerId,
      h.streak === undefined
        ? (this.cache.get(volunteerId) ?? NEW_REPUTATION)
        : {
            streak: Number(h.streak),
            verified: Number(h.verified),
            invalid: Number(h.invalid),
            trustedAt: num(h.trustedAt),
            quarantinedAt: num(h.quarantinedAt),
          },
    );
  }

  async flush(): Promise<void> {
    await Promise.all([...this.inflight]);
  }
}
