import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { redisKeys } from '../redis/keys';
import { NEW_REPUTATION, type Reputation } from './reputation';
import type { ReputationStore } from './reputation-store';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));

/** Reputation records kept in memory at most (the least recently used forgotten first). */
export const REPUTATIONS_KEPT = 100_000;

/**
 * Reputation in Redis (`tg:reputation:<volunteerId>`, a hash), served from memory. The
 * handshake awaits `warm` so a volunteer's record is (re)loaded before it can be sent work;
 * `put` updates memory at once and writes behind (one `HSET`, pipelined by ioredis; a
 * failed write goes to `onError` and is retried with the next `put` of that volunteer,
 * which carries the whole record). Quarantine is a one-way door, so the stored record is
 * only ever replaced by a later state of the same volunteer.
 *
 * Bounded: at most `kept` records in memory (default 100,000, far more volunteers than one
 * gateway serves at once), the least recently read or written forgotten first. A forgotten
 * volunteer is read again at its next handshake, or in the background at its next `get` (one
 * still connected that 100,000 others outlived), which answers a new volunteer's record until
 * the read lands.
 */
export class RedisReputationStore implements ReputationStore {
  private readonly cache: LRUCache<string, Reputation>;
  private readonly inflight = new Set<Promise<unknown>>();
  /**
   * Volunteers whose record is being read (`warm`, or a forgotten record's reload), with the puts
   * made since: a read that started before a put is older than memory. Bounded by the reads in
   * flight (an entry leaves with its last read).
   */
  private readonly reading = new Map<string, { reads: number; puts: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly onError: (err: unknown) => void = () => undefined,
    { kept = REPUTATIONS_KEPT }: { kept?: number } = {},
  ) {
    this.cache = new LRUCache({ max: kept });
  }

  /** Records held in memory (at most `kept`) and reads in flight (bounds of this store). */
  get held(): { records: number; reads: number } {
    return { records: this.cache.size, reads: this.reading.size };
  }

  /** From memory; a miss (a record forgotten, or never read here) is read in the background. */
  get(volunteerId: string): Reputation {
    const held = this.cache.get(volunteerId);
    if (held) return held;
    if (!this.reading.has(volunteerId)) this.load(volunteerId).catch(this.onError);
    return NEW_REPUTATION;
  }

  put(volunteerId: string, r: Reputation): void {
    this.cache.set(volunteerId, r);
    const read = this.reading.get(volunteerId);
    if (read) read.puts++;
    const write = this.redis
      .hset(redisKeys.reputation(volunteerId), {
        streak: r.streak,
        verified: r.verified,
        invalid: r.invalid,
        canaries: r.canaries,
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
    await this.load(volunteerId);
  }

  /** Reads the stored record into memory, unless a `put` came while it was read (that is newer). */
  private async load(volunteerId: string): Promise<void> {
    const read = this.reading.get(volunteerId) ?? { reads: 0, puts: 0 };
    this.reading.set(volunteerId, read);
    read.reads++;
    const puts = read.puts;
    let h: Record<string, string>;
    try {
      h = await this.redis.hgetall(redisKeys.reputation(volunteerId));
    } finally {
      if (--read.reads === 0) this.reading.delete(volunteerId);
    }
    if (read.puts !== puts) return; // a put won the race: it is newer
    this.cache.set(
      volunteerId,
      h.streak === undefined
        ? (this.cache.get(volunteerId) ?? NEW_REPUTATION)
        : {
            streak: Number(h.streak),
            verified: Number(h.verified),
            invalid: Number(h.invalid),
            canaries: Number(h.canaries ?? 0),
            trustedAt: num(h.trustedAt),
            quarantinedAt: num(h.quarantinedAt),
          },
    );
  }

  async flush(): Promise<void> {
    await Promise.all([...this.inflight]);
  }
}
