import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Key names: what `GET /api/me` shows and what owns jobs. */
export const KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** A requester as the server knows it once its key was checked. */
export interface Requester {
  /** The key's name; jobs belong to it. */
  name: string;
  source: 'env' | 'store';
}

/**
 * A new random key: `tg_` + 32 random bytes (256 bits) in base64url.
 *
 * @example generateKey() // 'tg_V7kq…' (46 characters)
 */
export function generateKey(): string {
  return `tg_${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 of a key, hex. Keys are long random strings, so a fast unsalted hash is enough
 * (nothing to brute-force); only this digest is stored.
 */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ (hashes both first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** The key in an `Authorization: Bearer <key>` header, or null. */
export function bearerKey(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]{1,200})\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Shortest key accepted from the environment: guessing must not be an option (docs/SECURITY.md). */
export const MIN_ENV_KEY_LENGTH = 24;

/**
 * Parses `TABGRID_API_KEYS`: comma-separated `name:key` pairs, keys of 24-200 characters
 * (`npm run keys -- create` makes 46); a shorter one stops the server at start-up.
 *
 * @example parseEnvKeys('ci:ci-key-0123456789abcdefghij') // [{name:'ci',key:'ci-key-0123456789abcdefghij'}]
 */
export function parseEnvKeys(raw: string | undefined): { name: string; key: string }[] {
  if (!raw || raw.trim() === '') return [];
  const seen = new Set<string>();
  return raw.split(',').map((pair, i) => {
    const at = pair.indexOf(':');
    const name = pair.slice(0, at).trim();
    const key = pair.slice(at + 1).trim();
    if (at < 0 || !KEY_NAME.test(name))
      throw new Error(`TABGRID_API_KEYS entry ${i + 1}: expected name:key with a name of [A-Za-z0-9_.-]`);
    if (key.length < MIN_ENV_KEY_LENGTH || key.length > 200 || /\s/.test(key))
      throw new Error(
        `TABGRID_API_KEYS entry ${i + 1} (${name}): keys are ${MIN_ENV_KEY_LENGTH}-200 characters, no spaces` +
          ' (make one with `npm run keys -- create <name>`, or `openssl rand -base64 32`)',
      );
    if (seen.has(name)) throw new Error(`TABGRID_API_KEYS: the name ${name} appears twice`);
    seen.add(name);
    return { name, key };
  });
}
