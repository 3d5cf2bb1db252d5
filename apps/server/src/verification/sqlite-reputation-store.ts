import type { Db } from '../storage/database';
import { NEW_REPUTATION, type Reputation } from './reputation';
import type { ReputationStore } from './reputation-store';

interface Row {
  volunteer_id: string;
  streak: number;
  verified: number;
  invalid: number;
  canaries: number;
  trusted_at: number | null;
  quarantined_at: number | null;
}

/** Each volunteer identity's reputation, in SQLite (migrations 6 and 13), cached in memory. */
export class SqliteReputationStore implements ReputationStore {
  private readonly cache = new Map<string, Reputation>();
  private readonly get_;
  private readonly put_;

  constructor(db: Db) {
    this.get_ = db.prepare<[string], Row>('SELECT * FROM volunteer_reputation WHERE volunteer_id = ?');
    this.put_ = db.prepare(
      `INSERT INTO volunteer_reputation (volunteer_id, streak, verified, invalid, canaries, trusted_at, quarantined_at)
       VALUES (@id, @streak, @verified, @invalid, @canaries, @trustedAt, @quarantinedAt)
       ON CONFLICT(volunteer_id) DO UPDATE SET streak = excluded.streak, verified = excluded.verified,
         invalid = excluded.invalid, canaries = excluded.canaries, trusted_at = excluded.trusted_at, quarantined_at = excluded.quarantined_at`,
    );
  }

  get(volunteerId: string): Reputation {
    const cached = this.cache.get(volunteerId);
    if (cached) return cached;
    const row = this.get_.get(volunteerId);
    const r: Reputation = row
      ? {
          streak: row.streak,
          verified: row.verified,
          invalid: row.invalid,
          canaries: row.canaries,
          trustedAt: row.trusted_at,
          quarantinedAt: row.quarantined_at,
        }
      : NEW_REPUTATION;
    this.cache.set(volunteerId, r);
    return r;
  }

  /** Writes first, then caches: a failed write leaves the cache as the database. */
  put(volunteerId: string, r: Reputation): void {
    this.put_.run({ id: volunteerId, ...r });
    this.cache.set(volunteerId, r);
  }

  /** Read again at every handshake (the contract: another gateway's change holds). */
  warm(volunteerId: string): Promise<void> {
    this.cache.delete(volunteerId);
    this.get(volunteerId);
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }
}
