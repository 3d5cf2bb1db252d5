import type { Db } from '../storage/database';
import type { IdentityBackend, IdentityRow } from './identity-backend';

interface Row {
  id: string;
  token_sha256: Buffer;
  display_name: string;
  created_at: number;
}

/** Volunteer identities in SQLite (`volunteer_identities`); names unique by constraint. */
export class SqliteIdentityBackend implements IdentityBackend {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      get: db.prepare<[string], Row>(
        'SELECT id, token_sha256, display_name, created_at FROM volunteer_identities WHERE id = ?',
      ),
      insert: db.prepare<[string, Buffer, string, number, number]>(
        `INSERT INTO volunteer_identities (id, token_sha256, display_name, created_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (display_name) DO NOTHING`,
      ),
      seen: db.prepare<[number, string]>('UPDATE volunteer_identities SET last_seen_at = ? WHERE id = ?'),
      // Verified work is what verification records (volunteer_reputation.verified, migration 6).
      expire: db.prepare<[number]>(
        `DELETE FROM volunteer_identities WHERE created_at < ? AND id NOT IN
           (SELECT volunteer_id FROM volunteer_reputation WHERE verified > 0)`,
      ),
    };
  }

  get(volunteerId: string): Promise<IdentityRow | null> {
    return Promise.resolve(this.getSync(volunteerId));
  }

  getSync(volunteerId: string): IdentityRow | null {
    const row = this.s.get.get(volunteerId);
    return row
      ? {
          volunteerId: row.id,
          tokenSha256: row.token_sha256,
          displayName: row.display_name,
          createdAt: row.created_at,
        }
      : null;
  }

  /** `ttlMs` is applied by `expire` (the sweep), which keeps every identity with verified work. */
  insert(row: IdentityRow): Promise<boolean> {
    const { volunteerId, tokenSha256, displayName, createdAt } = row;
    return Promise.resolve(
      this.s.insert.run(volunteerId, tokenSha256, displayName, createdAt, createdAt).changes === 1,
    );
  }

  /** Nothing to do: the sweep reads verified work from the reputation table. */
  keep(): Promise<void> {
    return Promise.resolve();
  }

  expire(createdBefore: number): Promise<number> {
    return Promise.resolve(this.s.expire.run(createdBefore).changes);
  }

  touch(volunteerId: string, now: number): Promise<void> {
    this.s.seen.run(now, volunteerId);
    return Promise.resolve();
  }
}
