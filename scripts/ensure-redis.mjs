#!/usr/bin/env node
/**
 * Step of `npm test`: makes sure a `redis-server` (Redis 7) exists for the tests that run
 * the Redis store and several gateways against a real Redis (each test starts its own
 * server on a free port: apps/server/test/support/redis.ts).
 *
 * Order: `REDIS_SERVER` (a path), else `redis-server` on PATH, else Debian's `redis-server`
 * package with apt (as root or with password-less sudo). Elsewhere it says what to install.
 *
 * @example node scripts/ensure-redis.mjs   # prints the redis-server it will use
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

const onPath = (name) => {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || null : null;
};

const run = (cmd, args) =>
  spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    .status === 0;

function installWithApt() {
  if (!onPath('apt-get')) return false;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) return false;
  const aptGet = (args) => (isRoot ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args]));
  console.log("ensure-redis: installing Debian's redis-server with apt-get");
  return aptGet(['update', '-qq']) && aptGet(['install', '-y', '-qq', 'redis-server']);
}

function main() {
  const fromEnv = process.env.REDIS_SERVER;
  if (fromEnv) {
    if (fs.existsSync(fromEnv)) return fromEnv;
    throw new Error(`REDIS_SERVER=${fromEnv} does not exist`);
  }
  const found = onPath('redis-server');
  if (found) return found;
  if (installWithApt() && onPath('redis-server')) return onPath('redis-server');
  throw new Error(
    'no redis-server for the tests: install Redis 7 (Debian: apt-get install redis-server; macOS: brew install redis) or set REDIS_SERVER',
  );
}

try {
  const server = main();
  const version = execFileSync(server, ['--version'], { encoding: 'utf8' }).trim();
  if (!/ v=(\d+)/.test(version) || Number(/ v=(\d+)/.exec(version)[1]) < 7) {
    throw new Error(`${server} is not Redis 7 or newer: ${version}`);
  }
  console.log(`ensure-redis: using ${server} (${version})`);
} catch (err) {
  console.error(`ensure-redis: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
