import { KeyNameError, type KeyStore } from './key-store';

/** Name of the key created on first start. */
export const FIRST_KEY_NAME = 'owner';

/**
 * First start: when no key exists anywhere (environment or store), creates one named
 * `owner` and returns it, so the caller can print a sign-in link once (Jupyter style: the
 * key travels in the URL fragment, which browsers never send to the server). Jobs created
 * before keys existed are given to it (`adoptOrphans`). Returns null when keys already exist,
 * also when another gateway sharing the store created the first key a moment earlier.
 */
export async function ensureFirstKey(
  keys: KeyStore,
  jobs: { adoptOrphans(owner: string): Promise<number> },
): Promise<string | null> {
  if ((await keys.size()) > 0) return null;
  let key: string;
  try {
    key = await keys.create(FIRST_KEY_NAME);
  } catch (err) {
    if (err instanceof KeyNameError) return null; // another gateway was first
    throw err;
  }
  await jobs.adoptOrphans(FIRST_KEY_NAME);
  return key;
}

/** The link printed on first start. */
export const signInLink = (port: number, key: string) => `http://localhost:${port}/#key=${key}`;
