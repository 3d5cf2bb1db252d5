import type { Db } from '../storage/database';
import type { KeyBackend, StoredKey } from './key-backend';

/** API keys in SQLite (`api_keys`: name primary key, SHA-256, creation time). */
export class SqliteKeyBackend implements KeyBackend {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      byHash: db.prepare<[string], { name: string }>('SELECT name FROM api_keys WHERE key_sha256 = ?'),
      insert: db.prepare(
        'INSERT INTO api_keys (name, key_sha256, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
      ),
      list: db.prepare<[], { name: string; created_at: number }>(
        'SELECT name, created_at FROM api_keys ORDER BY created_at, name',
      ),
      remove: db.prepare('DELETE FROM api_keys WHERE name = ?'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM api_keys'),
    };
  }

  nameOf(sha256: string): Promise<string | null> {
    return Promise.resolve(this.s.byHash.get(sha256)?.name ?? null);
  }

  insert(name: string, sha256: string, createdAt: number): Promise<boolean> {
    return Promise.resolve(this.s.insert.run(name, sha256, createdAt).changes === 1);
  }

  list(): Promise<StoredKey[]> {
    return Promise.resolve(this.s.list.all().map((r) => ({ name: r.name, createdAt: r.created_at })));
  }

  remove(name: string): Promise<boolean> {
    return Promise.resolve(this.s.remove.run(name).changes > 0);
  }

  count(): Promise<number> {
    return Promise.resolve(this.s.count.get()!.n);
  }
}
