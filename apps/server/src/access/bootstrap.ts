import type { JobAccess } from './job-access';
import type { KeyStore } from './key-store';

/** Name of the key created on first start. */
export const FIRST_KEY_NAME = 'owner';

/**
 * First start: when no key exists anywhere (environment or store), creates one named
 * `owner` and returns it, so the caller can print a sign-in link once (Jupyter style: the
 * key travels in the URL fragment, which browsers never send to the server). Jobs created
 * before keys existed are given to it. Returns null when keys already exist.
 */
export function ensureFirstKey(keys: KeyStore, jobs: JobAccess): string | null {
  if (keys.size > 0) return null;
  const key = keys.create(FIRST_KEY_NAME);
  jobs.adoptOrphans(FIRST_KEY_NAME);
  return key;
}

/** The link printed on first start. */
export const signInLink = (port: number, key: string) => `http://localhost:${port}/#key=${key}`;
