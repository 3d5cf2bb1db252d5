import type { BrowserContext } from '@playwright/test';
import { VOLUNTEER_CONSENT_KEY } from '../../apps/web/src/features/volunteer/storageKeys';

/**
 * Pre-sets the volunteer's consent in every page of a context (as if "Start
 * volunteering" had been pressed once on this device), so `/volunteer?autostart=1` starts.
 */
export async function grantVolunteerConsent(context: BrowserContext): Promise<void> {
  await context.addInitScript((key) => {
    (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem(
      key,
      'granted-by-test',
    );
  }, VOLUNTEER_CONSENT_KEY);
}
