/**
 * The requester's API key in this browser: taken from a sign-in link's fragment
 * (`/#key=…`, which browsers never send to the server), kept in localStorage, sent only
 * as `Authorization: Bearer` (never a cookie, so other sites cannot ride on it).
 */
const STORAGE = 'tabgrid.apiKey';

/**
 * Moves a key found in the URL fragment into storage and removes it from the address bar
 * (and from history), so it is not shared by copying the URL. Call once at start-up.
 */
export function captureKeyFromFragment(): void {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!match) return;
  saveApiKey(decodeURIComponent(match[1]!));
  history.replaceState(history.state, '', location.pathname + location.search);
}

export function loadApiKey(): string | null {
  try {
    return localStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

export function saveApiKey(key: string): void {
  try {
    localStorage.setItem(STORAGE, key.trim());
  } catch {
    // storage disabled: the key lives only until this tab reloads
  }
  memory = key.trim();
}

export function clearApiKey(): void {
  try {
    localStorage.removeItem(STORAGE);
  } catch {
    // nothing stored
  }
  memory = null;
}

let memory: string | null = null;

/** The key to send now (storage, or memory when storage is disabled). */
export const currentApiKey = (): string | null => loadApiKey() ?? memory;

/** Headers for an authenticated request; empty when signed out. */
export function authHeaders(): Record<string, string> {
  const key = currentApiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}
