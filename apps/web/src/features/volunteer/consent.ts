import { VOLUNTEER_CONSENT_KEY } from './storageKeys';

/** Consent is given once per device (this browser profile) and kept in localStorage. */
export function hasConsent(): boolean {
  try {
    return localStorage.getItem(VOLUNTEER_CONSENT_KEY) !== null;
  } catch {
    return false;
  }
}

export function giveConsent(): void {
  try {
    localStorage.setItem(VOLUNTEER_CONSENT_KEY, new Date().toISOString());
  } catch {
    // Storage blocked: consent holds for this visit only.
  }
}

export function withdrawConsent(): void {
  try {
    localStorage.removeItem(VOLUNTEER_CONSENT_KEY);
  } catch {
    // nothing stored
  }
}
