/**
 * First start (issue 8): with no key in the environment or the store, the real server process
 * creates an owner key and prints a sign-in link once — the only place the key ever appears
 * (never in the JSON log), on the same host as the "Tabgrid is up" line (issue 20). A restart
 * prints no key but says where to sign in and how to make a key; the key keeps working.
 */
import { MeSchema } from '@tabgrid/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { bearer, until } from './support/harness';
import { freePort, killAll, startServerProcess, tmpDir } from './support/processes';

afterAll(async () => {
  await killAll();
});

describe('first start', () => {
  it('prints a sign-in link with a new owner key once, and only there', async () => {
    const port = await freePort();
    const dataDir = tmpDir('tabgrid-first-');
    const env = { TABGRID_API_KEYS: '', LOG_LEVEL: 'info' };
    const first = await startServerProcess('server (first start)', { port, dataDir, env });
    const link = new RegExp(`Sign in \\(shown once\\): http://localhost:${port}/#key=(tg_[\\w-]{43})`);
    let key = '';
    const deadline = Date.now() + 10_000;
    while (!key && Date.now() < deadline) {
      key = link.exec(first.output())?.[1] ?? '';
      if (!key) await new Promise((r) => setTimeout(r, 50));
    }
    expect(key, first.output()).not.toBe('');
    expect(first.output().split(key).length - 1).toBe(1); // printed once, not logged
    expect(first.output()).toContain(`Tabgrid is up: dashboard http://localhost:${port}/`);
    const me = await fetch(`http://127.0.0.1:${port}/api/me`, { headers: bearer(key) });
    expect(MeSchema.parse(await me.json())).toMatchObject({ name: 'owner', source: 'store' });
    expect((await fetch(`http://127.0.0.1:${port}/api/me`)).status).toBe(401);
    await first.kill('SIGTERM');

    const again = await startServerProcess('server (restart)', { port, dataDir, env });
    await until(() => again.output().includes('npm run keys -- create <name>'), 10_000, 'the restart hint');
    expect(again.output()).not.toContain('Sign in (shown once)');
    expect(again.output()).toContain(`Sign in at http://localhost:${port}/ with your key`);
    expect((await fetch(`http://127.0.0.1:${port}/api/me`, { headers: bearer(key) })).status).toBe(200);
    await again.kill('SIGTERM');
  });
});
