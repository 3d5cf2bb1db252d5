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

/**
 * The address people open, printed in every start-up line, so the sign-in link and the pages
 * share one origin (a key kept by `localhost` is not seen by `127.0.0.1`): `localhost` when the
 * server listens on a loopback or every address, else the host it listens on.
 */
export function publicBase(host: string, port: number): string {
  const local = ['127.0.0.1', '::1', '0.0.0.0', '::', 'localhost', ''].includes(host);
  const name = local ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** The link printed on first start. */
export const signInLink = (base: string, key: string) => `${base}/#key=${key}`;

/** Printed at every later start: where to sign in and how to get a key (none is shown again). */
export const signInHint = (base: string) =>
  `Sign in at ${base}/ with your key. No key, or lost it? Make one: npm run keys -- create <name>`;
