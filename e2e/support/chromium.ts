/** How the e2e tests launch Chromium (shared by playwright.config.ts and specs that relaunch it). */
import fs from 'node:fs';
import { chromium } from '@playwright/test';

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * `CHROMIUM_PATH`, else the system Chromium (`/usr/bin/chromium`), else Playwright's own
 * download; `scripts/ensure-chromium.mjs` (the first step of `npm test`) installs one if none exists.
 */
export const CHROMIUM_PATH: string =
  process.env.CHROMIUM_PATH ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(isExecutable) ??
  chromium.executablePath();

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-gpu',
  '--no-first-run',
  '--disable-dev-shm-usage',
];
