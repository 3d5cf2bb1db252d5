/**
 * The volunteer page's localStorage keys. Constants only (no DOM), so e2e tests,
 * the bench and the screenshots script can pre-set consent with
 * `localStorage.setItem(VOLUNTEER_CONSENT_KEY, 'yes')` before the page loads.
 */
export const VOLUNTEER_CONSENT_KEY = 'tabgrid.volunteer.consent';
export const VOLUNTEER_SETTINGS_KEY = 'tabgrid.volunteer.settings';
export const VOLUNTEER_TALLY_KEY = 'tabgrid.volunteer.tally';
