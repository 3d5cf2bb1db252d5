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
  /** Stores a new identity; false (nothing stored) when its display name is taken. */
  insert(row: IdentityRow): Promise<boolean>;
  /** Records a visit (informational: callers ignore its failure). */
  touch(volunteerId: string, now: number): Promise<void>;
}
