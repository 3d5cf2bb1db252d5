import type { Db } from '../storage/database';
import { KEY_NAME, constantTimeEqual, generateKey, hashKey, type Requester } from './api-key';

/** A stored key as `npm run keys -- list` shows it (never the key itself). */
export interface StoredKey {
  name: string;
  createdAt: number;
}

export class KeyNameError extends Error {
  override readonly name = 'KeyNameError';
}

/**
 * Requesters' API keys: those of `TABGRID_API_KEYS` (kept in memory, as hashes) and those
 * created with `npm run keys` (SQLite table `api_keys`, SHA-256 only; the key is shown once).
 * Environment keys win when a name exists in both.
 */
export class KeyStore {
  private readonly envKeys: { name: string; sha256: string }[];
  private readonly s;

  constructor(
    private readonly db: Db,
    envKeys: readonly { name: string; key: string }[] = [],
  ) {
    this.envKeys = envKeys.map((k) => ({ name: k.name, sha256: hashKey(k.key) }));
    this.s = {
      byHash: db.prepare<[string], { name: string }>('SELECT name FROM api_keys WHERE key_sha256 = ?'),
      insert: db.prepare('INSERT INTO api_keys (name, key_sha256, created_at) VALUES (?, ?, ?)'),
      list: db.prepare<[], { name: string; created_at: number }>(
        'SELECT name, created_at FROM api_keys ORDER BY created_at, name',
      ),
      remove: db.prepare('DELETE FROM api_keys WHERE name = ?'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM api_keys'),
    };
  }

  /** How many keys exist at all (environment + stored). */
  get size(): number {
    return this.envKeys.length + this.s.count.get()!.n;
  }

  /**
   * The requester a presented key belongs to, or null. Environment keys are compared in
   * constant time; stored keys are looked up by their SHA-256 (the digest of a secret
   * reveals nothing about which bytes of a guess were right).
   */
  resolve(key: string): Requester | null {
    const sha256 = hashKey(key);
    let match: string | null = null;
    for (const k of this.envKeys) if (constantTimeEqual(k.sha256, sha256) && match === null) match = k.name;
    if (match !== null) return { name: match, source: 'env' };
    const row = this.s.byHash.get(sha256);
    return row ? { name: row.name, source: 'store' } : null;
  }

  /** Creates a key called `name`; returns the key (the only time it exists in clear). */
  create(name: string, now = Date.now()): string {
    if (!KEY_NAME.test(name)) throw new KeyNameError('key names are 1-64 characters of [A-Za-z0-9_.-]');
    if (this.envKeys.some((k) => k.name === name))
      throw new KeyNameError(`${name} is already defined by TABGRID_API_KEYS`);
    const key = generateKey();
    try {
      this.s.insert.run(name, hashKey(key), now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new KeyNameError(`a key named ${name} exists; revoke it first`);
      throw err;
    }
    return key;
  }

  list(): StoredKey[] {
    return this.s.list.all().map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  /** Deletes a stored key; its jobs stay (a new key with the same name owns them again). */
  revoke(name: string): boolean {
    return this.s.remove.run(name).changes > 0;
  }
}
