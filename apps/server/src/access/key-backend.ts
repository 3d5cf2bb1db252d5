/**
 * Where created API keys are kept (only their SHA-256): SQLite (`sqlite-key-backend.ts`) or
 * Redis (`redis-key-backend.ts`). Naming rules and environment keys live in `KeyStore`.
 * Contract: apps/server/test/contracts/api-keys.ts.
 */
export interface StoredKey {
  name: string;
  createdAt: number;
}

export interface KeyBackend {
  /** The name of the key with this SHA-256 (hex), or null. */
  nameOf(sha256: string): Promise<string | null>;
  /** Stores a key; false (nothing stored) when the name exists. */
  insert(name: string, sha256: string, createdAt: number): Promise<boolean>;
  /** Every stored key, oldest first. */
  list(): Promise<StoredKey[]>;
  /** Deletes a key by name; false when there was none. */
  remove(name: string): Promise<boolean>;
  count(): Promise<number>;
}
