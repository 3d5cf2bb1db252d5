/**
 * Identity secrets: 256 random bits as 43 base64url characters. The server
 * keeps only their SHA-256 and compares hashes in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh secret token (43 base64url characters). */
export const issueToken = (): string => randomBytes(32).toString('base64url');

/** A fresh volunteer id: `v_` + 128 random bits in hex (never published). */
export const issueVolunteerId = (): string => `v_${randomBytes(16).toString('hex')}`;

/** SHA-256 of the token: what the database stores. */
export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Whether `token` hashes to `storedHash`, in time independent of where they differ. */
export function tokenMatches(token: string, storedHash: Buffer): boolean {
  const actual = hashToken(token);
  return actual.length === storedHash.length && timingSafeEqual(actual, storedHash);
}
