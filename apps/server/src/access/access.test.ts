import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../storage/database';
import { bearerKey, constantTimeEqual, hashKey, parseEnvKeys } from './api-key';
import { ensureFirstKey, FIRST_KEY_NAME } from './bootstrap';
import { ImageSigner } from './image-signer';
import { SchedulerStore } from '../store/sqlite';
import { KeyNameError, KeyStore } from './key-store';
import { OriginPolicy, parseOrigins } from './origin-check';
import { SqliteKeyBackend } from './sqlite-key-backend';

let db: Db | null = null;
const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-access-'));
afterEach(() => {
  db?.close();
  db = null;
});

describe('API keys', () => {
  it('parses TABGRID_API_KEYS and refuses malformed entries', () => {
    expect(parseEnvKeys('ci:key-0123456789abcdefghijk, alice:another-key-1-abcdefghijk')).toEqual([
      { name: 'ci', key: 'key-0123456789abcdefghijk' },
      { name: 'alice', key: 'another-key-1-abcdefghijk' },
    ]);
    expect(parseEnvKeys(undefined)).toEqual([]);
    expect(() => parseEnvKeys('nokey')).toThrow(/name:key/);
    expect(() => parseEnvKeys('a:short')).toThrow(/24-200/);
    // Keys a guesser could find (issue 17): 8 characters used to be enough.
    expect(() => parseEnvKeys('a:key-01234567890123456')).toThrow(/24-200/);
    expect(() => parseEnvKeys('a:key-0123456789abcdefghijk,a:key-9876543210abcdefghijk')).toThrow(/twice/);
  });

  it('reads only Bearer authorization; compares in constant time', () => {
    expect(bearerKey('Bearer abc-123')).toBe('abc-123');
    expect(bearerKey('bearer abc-123')).toBe('abc-123');
    expect(bearerKey('Basic abc')).toBeNull();
    expect(bearerKey(undefined)).toBeNull();
    expect(constantTimeEqual('same', 'same')).toBe(true);
    expect(constantTimeEqual('same', 'samf')).toBe(false);
    expect(constantTimeEqual('short', 'much longer')).toBe(false);
  });

  it('stores only hashes; resolves env and stored keys; revokes; refuses duplicate names', async () => {
    db = openDatabase(dir());
    const keys = new KeyStore(new SqliteKeyBackend(db), [{ name: 'ci', key: 'env-key-0123456789' }]);
    const key = await keys.create('alice');
    expect(key).toMatch(/^tg_[\w-]{43}$/);
    const rows = db.prepare('SELECT * FROM api_keys').all() as { key_sha256: string }[];
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(rows[0]!.key_sha256).toBe(hashKey(key));
    expect(await keys.resolve(key)).toEqual({ name: 'alice', source: 'store' });
    expect(await keys.resolve('env-key-0123456789')).toEqual({ name: 'ci', source: 'env' });
    expect(await keys.resolve('env-key-0123456780')).toBeNull();
    await expect(keys.create('alice')).rejects.toThrow(KeyNameError);
    await expect(keys.create('ci')).rejects.toThrow(KeyNameError);
    await expect(keys.create('bad name')).rejects.toThrow(KeyNameError);
    expect((await keys.list()).map((k) => k.name)).toEqual(['alice']);
    expect(await keys.revoke('alice')).toBe(true);
    expect(await keys.resolve(key)).toBeNull();
    expect(await keys.revoke('alice')).toBe(false);
  });

  it('creates the first key only when no key exists anywhere', async () => {
    db = openDatabase(dir());
    const jobs = new SchedulerStore(db, { maxAttempts: 3, maxFailureReports: 3, taskDeadlineMs: 60_000 });
    const backend = new SqliteKeyBackend(db);
    expect(
      await ensureFirstKey(new KeyStore(backend, [{ name: 'ci', key: 'env-key-0123456789' }]), jobs),
    ).toBeNull();
    const keys = new KeyStore(backend);
    const first = await ensureFirstKey(keys, jobs);
    expect(first).not.toBeNull();
    expect(await keys.resolve(first!)).toEqual({ name: FIRST_KEY_NAME, source: 'store' });
    expect(await ensureFirstKey(keys, jobs)).toBeNull();
  });
});

describe('origins', () => {
  it('defaults to the server’s own origin (Host), whatever name the page used', () => {
    const policy = new OriginPolicy([]);
    expect(policy.allows(undefined, 'localhost:8080')).toBe(true); // not a browser
    expect(policy.allows('http://localhost:8080', 'localhost:8080')).toBe(true);
    expect(policy.allows('http://127.0.0.1:8080', '127.0.0.1:8080')).toBe(true);
    expect(policy.allows('http://evil.example', 'localhost:8080')).toBe(false);
    expect(policy.allows('http://localhost:5173', 'localhost:8080')).toBe(false);
    expect(policy.allows('null', 'localhost:8080')).toBe(false);
  });

  it('uses exactly TABGRID_ALLOWED_ORIGINS when set', () => {
    const policy = new OriginPolicy(parseOrigins('https://tabgrid.example.org, http://localhost:5173'));
    expect(policy.allows('http://localhost:5173', 'localhost:8080')).toBe(true);
    expect(policy.allows('https://tabgrid.example.org', 'internal:8080')).toBe(true);
    expect(policy.allows('http://localhost:8080', 'localhost:8080')).toBe(false);
    expect(() => parseOrigins('https://a.example/path')).toThrow(/origin/);
    expect(() => parseOrigins('not a url')).toThrow(/origin/);
  });
});

describe('sealed image URLs', () => {
  const signer = new ImageSigner(Buffer.alloc(32, 7), 60_000);

  it('opens its own token until it expires, and hides the task id', () => {
    const now = 1_000_000;
    const url = signer.imageUrl('task_abc', now);
    expect(url).not.toContain('task_abc');
    const token = url.slice('/img/'.length);
    expect(signer.open(token, now)).toBe('task_abc');
    expect(signer.open(token, now + 60_000)).toBe('task_abc'); // rounded up, still valid
    expect(signer.open(token, now + 2 * 60_000)).toBeNull();
    expect(signer.imageUrl('task_abc', now + 1)).toBe(url); // stable for a while (cache)
  });

  it('refuses tokens from another secret', () => {
    const token = signer.imageUrl('task_abc').slice('/img/'.length);
    expect(new ImageSigner(Buffer.alloc(32, 8)).open(token)).toBeNull();
    expect(signer.resultId('task_abc')).not.toContain('task_abc');
    expect(signer.resultId('task_abc')).toBe(signer.resultId('task_abc'));
  });
});
