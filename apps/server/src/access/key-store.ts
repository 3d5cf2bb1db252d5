import { KEY_NAME, constantTimeEqual, generateKey, hashKey, type Requester } from './api-key';
import type { KeyBackend, StoredKey } from './key-backend';

export type { StoredKey } from './key-backend';

export class KeyNameError extends Error {
  override readonly name = 'KeyNameError';
}

/**
 * Requesters' API keys: those of `TABGRID_API_KEYS` (kept in memory, as hashes) and those
 * created with `npm run keys` (in the backend — SQLite or Redis — SHA-256 only; the key is
 * shown once). Environment keys win when a name exists in both.
 */
export class KeyStore {
  private readonly envKeys: { name: string; sha256: string }[];

  constructor(
    private readonly backend: KeyBackend,
    envKeys: readonly { name: string; key: string }[] = [],
  ) {
    this.envKeys = envKeys.map((k) => ({ name: k.name, sha256: hashKey(k.key) }));
  }

  /** How many keys exist at all (environment + stored). */
  async size(): Promise<number> {
    return this.envKeys.length + (await this.backend.count());
  }

  /**
   * The requester a presented key belongs to, or null. Environment keys are compared in
   * constant time; stored keys are looked up by their SHA-256 (the digest of a secret
   * reveals nothing about which bytes of a guess were right).
   */
  async resolve(key: string): Promise<Requester | null> {
    const sha256 = hashKey(key);
    let match: string | null = null;
    for (const k of this.envKeys) if (constantTimeEqual(k.sha256, sha256) && match === null) match = k.name;
    if (match !== null) return { name: match, source: 'env' };
    const name = await this.backend.nameOf(sha256);
    return name !== null ? { name, source: 'store' } : null;
  }

  /** Creates a key called `name`; returns the key (the only time it exists in clear). */
  async create(name: string, now = Date.now()): Promise<string> {
    if (!KEY_NAME.test(name)) throw new KeyNameError('key names are 1-64 characters of [A-Za-z0-9_.-]');
    if (this.envKeys.some((k) => k.name === name))
      throw new KeyNameError(`${name} is already defined by TABGRID_API_KEYS`);
    const key = generateKey();
    if (!(await this.backend.insert(name, hashKey(key), now)))
      throw new KeyNameError(`a key named ${name} exists; revoke it first`);
    return key;
  }

  list(): Promise<StoredKey[]> {
    return this.backend.list();
  }

  /** Deletes a stored key; its jobs stay (a new key with the same name owns them again). */
  revoke(name: string): Promise<boolean> {
    return this.backend.remove(name);
  }
}
