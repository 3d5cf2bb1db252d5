/**
 * The requesters the e2e server knows (`TABGRID_API_KEYS` in playwright.config.ts). Test
 * keys, not secrets: the server runs on a fresh data directory for each run.
 */
export const E2E_KEYS = {
  owner: { name: 'e2e-owner', key: 'e2e-key-owner-0123456789' },
  other: { name: 'e2e-other', key: 'e2e-key-other-0123456789' },
} as const;

export const E2E_API_KEYS = Object.values(E2E_KEYS)
  .map((k) => `${k.name}:${k.key}`)
  .join(',');

/** `Authorization: Bearer <key>` for Playwright's request context (the owner by default). */
export const authHeaders = (key: string = E2E_KEYS.owner.key) => ({ authorization: `Bearer ${key}` });
