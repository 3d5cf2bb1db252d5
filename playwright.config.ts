/**
 * End-to-end tests: real Chromium tabs against a real server on the built web app.
 * Run with `npm run test:e2e` (vite build, then playwright test). The measurement
 * spec (`e2e/measure.spec.ts`) only runs with TABGRID_MEASURE=1.
 */
import path from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/support/chromium';
import { E2E_API_KEYS } from './e2e/support/keys';

/** Fixed, unlikely-to-clash port (others use 8080, 8091...). Override with TABGRID_E2E_PORT. */
const PORT = Number(process.env.TABGRID_E2E_PORT ?? 8787);
const BASE_URL = `http://127.0.0.1:${PORT}`;
/**
 * A fresh data directory per run, so earlier jobs never leak into a test; a measuring spec may
 * name one with TABGRID_E2E_DATA_DIR (a history seeded once, measured again).
 */
const DATA_DIR =
  process.env.TABGRID_E2E_DATA_DIR || path.join('.tmp', `e2e-data-${Date.now()}-${process.pid}`);

export default defineConfig({
  testDir: 'e2e',
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  reporter: 'list',
  timeout: 90_000,
  expect: { timeout: 30_000 },
  use: {
    baseURL: BASE_URL,
    trace: 'on-first-retry',
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
  webServer: {
    command: 'npx tsx apps/server/src/main.ts',
    url: `${BASE_URL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      PORT: String(PORT),
      HOST: '127.0.0.1',
      TABGRID_DATA_DIR: DATA_DIR,
      LOG_LEVEL: 'warn',
      TABGRID_API_KEYS: E2E_API_KEYS,
      // Every tab connects from 127.0.0.1.
      TABGRID_MAX_VOLUNTEERS_PER_IP: '1000',
      TABGRID_NEW_IDENTITIES_PER_HOUR: '0',
      TABGRID_MAX_LIVE_PER_IP: '0',
      TABGRID_MAX_TASKS_PER_IP: '0',
      // The browser specs measure the tab path (fidelity, worker, access), not verification, which
      // doubles every task's work (replicas) and, on a loaded 2-core machine, made tabs miss acks
      // until tasks ran out of attempts. Verification is tested in apps/server/test/verification/.
      TABGRID_VERIFICATION: '0',
    },
  },
});
