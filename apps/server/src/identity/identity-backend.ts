/**
 * Where volunteer identities are kept: SQLite (`sqlite-identity-backend.ts`) or Redis
 * (`redis-identity-backend.ts`). The rules (tokens hashed, names unique, I1/I2) live in
 * `IdentityStore`; a backend only stores rows. Contract: apps/server/test/contracts/identity.ts.
 */
export interface IdentityRow {
  volunteerId: string;
  /** SHA-256 of the secret token (32 bytes). */
  tokenSha256: Buffer;
  displayName: string;
  createdAt: number;
}

export interface IdentityBackend {
  get(volunteerId: string): Promise<IdentityRow | null>;
  /** A synchronous `get`, where the backend has one (SQLite): the live view's names at once. */
  getSync?(volunteerId: string): IdentityRow | null;
  /**
   * Stores a new identity; false (nothing stored) when its display name is taken. With `ttlMs`
   * the identity is forgotten that long after `createdAt` unless `keep` is called first (rule I8;
   * Redis expires the keys, SQLite's `expire` sweep deletes the row).
   */
  insert(row: IdentityRow, ttlMs?: number): Promise<boolean>;
  /** The identity did verified work: it no longer expires. */
  keep(volunteerId: string): Promise<void>;
  /**
   * Deletes identities issued before `createdBefore` that never did verified work, and returns how
   * many (SQLite: no reputation row with a verified result; Redis: 0, its keys expire by themselves).
   */
  expire(createdBefore: number): Promise<number>;
  /** Records a visit (informational: callers ignore its failure). */
  touch(volunteerId: string, now: number): Promise<void>;
}
