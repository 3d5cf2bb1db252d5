#!/usr/bin/env node
/**
 * First step of `npm test`: makes sure a Chromium for the Playwright tests exists.
 *
 * Order (the first that works wins; `e2e/support/chromium.ts` resolves the same way):
 * 1. `CHROMIUM_PATH`, when set, must point at an executable (nothing is installed then).
 * 2. A system Chromium (`/usr/bin/chromium`, or `chromium` / `chromium-browser` on PATH).
 * 3. Where apt exists and we may use it (root, or password-less sudo): Debian's `chromium` package.
 * 4. Elsewhere: Playwright's own Chromium download (`npx playwright install chromium`).
 *
 * @example node scripts/ensure-chromium.mjs   # prints the Chromium it will use
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SYSTEM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const isExecutable = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/** `command -v NAME`, or null. */
const onPath = (name) => {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || null : null;
};

function systemChromium() {
  return SYSTEM_CANDIDATES.find(isExecutable) ?? onPath('chromium') ?? onPath('chromium-browser');
}

function playwrightChromium() {
  try {
    const file = require('playwright-core').chromium.executablePath();
    return file && isExecutable(file) ? file : null;
  } catch {
    return null;
  }
}

const run = (cmd, args) =>
  spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    .status === 0;

function installWithApt() {
  if (!onPath('apt-get')) return false;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) return false;
  const aptGet = (args) => (isRoot ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args]));
  console.log("ensure-chromium: installing Debian's chromium with apt-get");
  return (
    aptGet(['update', '-qq']) && aptGet(['install', '-y', '-qq', 'chromium']) && systemChromium() !== null
  );
}

function installWithPlaywright() {
  console.log("ensure-chromium: downloading Playwright's own Chromium");
  return run('npx', ['--no-install', 'playwright', 'install', 'chromium']) && playwrightChromium() !== null;
}

function main() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
  }
  const found = systemChromium() ?? playwrightChromium();
  if (found) return found;
  if (installWithApt()) return systemChromium();
  if (installWithPlaywright()) return playwrightChromium();
  throw new Error(
    'no Chromium for the browser tests: install one (Debian: apt-get install chromium) or set CHROMIUM_PATH',
  );
}

try {
  const chromium = main();
  const version = execFileSync(chromium, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`ensure-chromium: using ${chromium} (${version})`);
} catch (err) {
  console.error(`ensure-chromium: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
